#pragma once
// What the archive knows of accounts' XEP-0441 preferences (and, for 'roster', of their
// rosters), so that archiving a message rarely needs a query. Entries expire (10 min; 30 s for
// "no such account"; roster membership 60 s). An entry is filled from a query that may still
// be running when the account is deleted or created (user/deleted, user/created) or its
// preferences are saved: a generation, read before the query and checked when its answer is
// installed, keeps such a late answer out. Unit-tested in tests/unit/modules/mam_prefs_cache_test.cpp.
//
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "modules/mam/mam_forms.hpp"

namespace parley::modules::mam {

class PrefsCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kPrefsTtl = std::chrono::minutes(10);
  static constexpr auto kNoAccountTtl = std::chrono::seconds(30);  // accounts created by `parley user add`
  static constexpr auto kRosterTtl = std::chrono::seconds(60);     // roster membership, for 'roster'
  static constexpr std::size_t kCacheLimit = 100000;

  struct Entry {
    bool exists = false;
    Prefs prefs;
  };

  std::optional<Entry> find(const std::string& account) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(account);
    if (it == entries_.end() || it->second.expires < Clock::now()) return std::nullopt;
    return it->second.entry;
  }

  /// Read before loading an entry, and given back to put(): a load that started before a
  /// forget() or a saved change must not install what it read.
  std::uint64_t generation() {
    std::lock_guard lock(mutex_);
    return generation_;
  }

  /// Installs what was loaded at `generation`, unless the account was forgotten or its
  /// preferences saved since then (that load may have read the old account's, or no account).
  void put(const std::string& account, Entry entry, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    install_locked(account, std::move(entry));
  }

  /// Installs preferences just saved; they supersede every load in progress. If the account
  /// was forgotten since `generation` (read before the save), whatever the save found may be
  /// the old account's: nothing is installed and the next use loads.
  void put_saved(const std::string& account, Entry entry, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    bool current = generation == generation_;
    ++generation_;
    if (current) {
      install_locked(account, std::move(entry));
    } else {
      entries_.erase(account);
    }
  }

  /// Drops what is known of `account` (user/created, user/deleted), also what a load in
  /// progress would install.
  void forget(const std::string& account) {
    std::lock_guard lock(mutex_);
    ++generation_;
    entries_.erase(account);
  }

  std::optional<bool> in_roster(const std::string& account, const std::string& peer) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(account);
    if (it == entries_.end()) return std::nullopt;
    auto r = it->second.roster.find(peer);
    if (r == it->second.roster.end() || r->second.second < Clock::now()) return std::nullopt;
    return r->second.first;
  }

  /// Like put(): nothing is installed if the account was forgotten since `generation`.
  void put_roster(const std::string& account, const std::string& peer, bool member, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    auto it = entries_.find(account);
    if (it == entries_.end() || it->second.roster.size() >= 1000) return;
    it->second.roster[peer] = {member, Clock::now() + kRosterTtl};
  }

 private:
  struct Slot {
    Entry entry;
    Clock::time_point expires;
    std::unordered_map<std::string, std::pair<bool, Clock::time_point>> roster;
  };
  void install_locked(const std::string& account, Entry entry) {
    if (entries_.size() >= kCacheLimit) entries_.clear();
    auto ttl = entry.exists ? Clock::duration(kPrefsTtl) : Clock::duration(kNoAccountTtl);
    entries_[account] = Slot{std::move(entry), Clock::now() + ttl, {}};
  }

  std::mutex mutex_;
  std::unordered_map<std::string, Slot> entries_;
  // Changes on every forget() and saved change (one counter for all accounts: those are
  // rare, and a load that loses the race only leaves its entry uncached).
  std::uint64_t generation_ = 0;
};

}  // namespace parley::modules::mam
