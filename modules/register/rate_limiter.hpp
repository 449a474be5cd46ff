#pragma once
// An in-memory limit on attempts per key (a client's address) in a sliding window, for
// in-band registration (XEP-0077). Pure logic with an injectable clock; tested in
// tests/unit/modules/register_test.cpp. Thread-safe.

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::modules::registration {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// At most `limit` attempts per key in any `window`; a limit of 0 means no limit.
  RateLimiter(std::size_t limit, std::chrono::seconds window);

  /// Records an attempt by `key` at `now` and returns true if it is within the limit;
  /// returns false, recording nothing, if it is not.
  bool allow(std::string_view key, Clock::time_point now = Clock::now());

  /// How many keys are remembered (those with an attempt inside the window, give or take
  /// one purge interval): memory stays bounded by the recent attempts.
  std::size_t keys() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  void purge_locked(Clock::time_point now);

  std::size_t limit_;
  std::chrono::seconds window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>, Hash, std::equal_to<>> attempts_;
  Clock::time_point next_purge_{};
};

}  // namespace parley::modules::registration
