#pragma once
// Caps on open connections ([limits] max_connections, max_connections_per_address): a
// listener asks before it starts a session, and the session holds its Ticket for as long
// as it lives, so the counts are exact whatever way a session ends.
//
// Thread-safe. A Ticket may outlive the limiter's owner (it shares the counts).

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace parley::server::net {

class ConnectionLimiter {
  struct State {
    std::mutex mutex;
    std::size_t total = 0;
    std::unordered_map<std::string, std::size_t> by_address;
  };

 public:
  ConnectionLimiter(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address), state_(std::make_shared<State>()) {}

  /// One open connection; released when destroyed.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : state_(std::move(other.state_)), address_(std::move(other.address_)) {}
    Ticket& operator=(Ticket&& other) noexcept {
      if (this != &other) {
        release();
        state_ = std::move(other.state_);
        address_ = std::move(other.address_);
      }
      return *this;
    }
    ~Ticket() { release(); }

   private:
    friend class ConnectionLimiter;
    void release() noexcept;
    Ticket(std::shared_ptr<State> state, std::string address) : state_(std::move(state)), address_(std::move(address)) {}
    std::shared_ptr<State> state_;
    std::string address_;  // empty: not counted per address
  };

  /// A place for a connection from `address` (counted per address unless `per_address` is
  /// false, e.g. for other servers), or nullopt with the reason in `why`.
  std::optional<Ticket> admit(const std::string& address, bool per_address, std::string* why);

  std::size_t open() const;

 private:
  std::size_t max_total_;
  std::size_t max_per_address_;
  std::shared_ptr<State> state_;
};

}  // namespace parley::server::net
