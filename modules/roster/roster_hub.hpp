#pragma once
// What the roster and presence modules of one host share in memory: the "interested
// resources" (RFC 6121 §2.1.6: sessions that asked for the roster in this session) and the
// roster pushes sent to them, plus the host's roster limits (set by the roster module, read
// by the presence module when a subscription adds an item).
//
// One Hub per served domain, found by name (both modules of a host reach the same one).
// Thread-safe: handlers on several threads add, remove and push at once.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "modules/roster/roster_logic.hpp"
#include "server/module_api.hpp"

namespace parley::modules::roster {

class Hub {
 public:
  /// The hub of `domain`, created on first use; lives as long as the process.
  static Hub& of(std::string_view domain);

  /// Marks a session interested (it requested the roster). `versioning`: the request had a
  /// 'ver' attribute, so results and pushes to it carry one (RFC 6121 §2.6).
  void add_interested(const std::shared_ptr<server::ClientSession>& session, bool versioning);
  /// Forgets a session (session/closed); only this exact session, not a newer one with the
  /// same full JID.
  void remove(const server::ClientSession& session);
  bool interested(const server::ClientSession& session) const;

  /// Sends a roster push (RFC 6121 §2.1.6) with `item` to every interested resource of
  /// `account` (a bare JID), with 'ver' = `version` for those using versioning.
  void push(const server::Jid& account, const server::xml::Element& item, std::int64_t version);

  /// Every change push() announces also goes to the listeners, whether or not a resource is
  /// interested: the account (bare), the item as pushed (subscription='remove' for a removal)
  /// and the roster's version after the change. The presence module keeps its subscriber
  /// cache with it. A listener must not call back into the hub. After unlisten(token)
  /// returns, that listener is neither running nor called again.
  using Listener = std::function<void(const server::Jid&, const server::xml::Element&, std::int64_t)>;
  std::uint64_t listen(Listener listener);
  void unlisten(std::uint64_t token);

  /// Roster size limit (RFC 6121 §2.3.3 leaves it to the server); the roster module sets it
  /// from [host.roster] max_items.
  std::size_t max_items() const { return max_items_.load(std::memory_order_relaxed); }
  void set_max_items(std::size_t n) { max_items_.store(n, std::memory_order_relaxed); }

 private:
  struct Entry {
    std::weak_ptr<server::ClientSession> session;
    const server::ClientSession* id;
    bool versioning;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Entry>> by_account_;  // bare JID -> sessions
  std::mutex listeners_mutex_;  // held while listeners run, so that unlisten() waits for them
  std::vector<std::pair<std::uint64_t, Listener>> listeners_;
  std::atomic<std::size_t> max_items_{1000};
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace parley::modules::roster
