#pragma once
// Who may see an online account's presence: the contacts whose item in the account's roster
// has a subscription "from" or "both" (RFC 6121 §4.3.2), kept in memory while the account is
// online so that a probe is answered without asking the database (docs/profiling.md,
// Presence).
//
// The cache must never say "subscribed" after the roster says otherwise. It is filled from
// the roster snapshot read at an available presence (with the roster's version) and kept
// current by every roster change, which the roster and presence modules both announce
// through roster::Hub::push with the version it gave the roster. Changes are matched per
// contact by version, so a change that raced the snapshot, or whose push overtook an
// earlier one, is neither lost nor undone. An account not (or not yet) in the cache gets
// nullopt: ask the database.
//
// Thread-safe.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace parley::modules::presence {

class SubscriberCache {
 public:
  /// Before reading the account's roster snapshot: changes from now on are kept for it.
  void begin_load(const std::string& account);
  /// The snapshot read after begin_load(): its roster version and the contacts with a
  /// subscription from the account.
  void end_load(const std::string& account, std::int64_t version, std::unordered_set<std::string> from);
  /// The snapshot could not be read.
  void abandon_load(const std::string& account);

  /// A roster change of `account`: `contact`'s item now has (or has not) a subscription
  /// from the account, as of roster version `version`.
  void change(const std::string& account, const std::string& contact, bool has_from, std::int64_t version);

  /// Whether `contact` is subscribed to `account`'s presence; nullopt when the cache does
  /// not know the account.
  std::optional<bool> subscribed(const std::string& account, const std::string& contact) const;

  /// The account went offline: its entry goes (unless a snapshot is being read for it).
  void forget(const std::string& account);

  std::size_t size() const;

 private:
  struct Entry {
    int loading = 0;                   // snapshots being read
    bool ready = false;                // a snapshot has been applied
    std::int64_t base = 0;             // the applied snapshot's roster version
    std::unordered_set<std::string> from;  // as of `base`
    // Changes after `base` (or, while no snapshot is applied, all changes seen), by contact:
    // the version of the latest and whether the contact has a subscription from the account.
    std::unordered_map<std::string, std::pair<std::int64_t, bool>> changed;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // by bare JID
};

}  // namespace parley::modules::presence
