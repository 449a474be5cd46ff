#pragma once
// Growing delays for failed logins, per client address and per account (the seed documents'
// advice on credential stuffing): delays, never lockouts, so an attacker cannot lock a
// victim out, and a user who mistypes twice notices nothing. After `free_failures` failed
// checks within `forget_after`, each further attempt from that address, or for that
// account, waits base, 2 x base, 4 x base ... up to `max` before its credentials are checked.
// The account key is the name tried, whether or not such an account exists, so the delay
// says nothing about existence. A success clears the account's counter, not the address's
// (an attacker who owns one account must not be able to reset its address by using it).
//
// Memory is bounded: at most `max_entries` addresses and accounts each; entries older than
// `forget_after` are dropped first, then the oldest.
//
// Thread-safe. Asio-free; the caller waits.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::server {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds base{500};
    std::chrono::milliseconds max{10000};
    int free_failures = 2;
    std::chrono::seconds forget_after{900};
    std::size_t max_entries = 100000;
  };

  explicit LoginThrottle(Options options) : options_(options) {}

  /// How long to wait before checking credentials of `account` from `address`.
  std::chrono::milliseconds delay(std::string_view address, std::string_view account,
                                  Clock::time_point now = Clock::now());
  void failed(std::string_view address, std::string_view account, Clock::time_point now = Clock::now());
  void succeeded(std::string_view account);

  /// The key for an address: IPv4 as is, IPv6 by its /64 (one subscriber's usual share).
  static std::string address_key(std::string_view address);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last;
  };
  using Table = std::unordered_map<std::string, Entry>;
  int failures(Table& table, const std::string& key, Clock::time_point now);
  void count(Table& table, const std::string& key, Clock::time_point now);

  Options options_;
  std::mutex mutex_;
  Table by_address_;
  Table by_account_;
};

}  // namespace parley::server
