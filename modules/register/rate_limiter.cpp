#include "modules/register/rate_limiter.hpp"

#include <algorithm>

namespace parley::modules::registration {

RateLimiter::RateLimiter(std::size_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}

bool RateLimiter::allow(std::string_view key, Clock::time_point now) {
  if (limit_ == 0) return true;
  std::lock_guard lock(mutex_);
  purge_locked(now);
  auto it = attempts_.find(key);
  if (it == attempts_.end()) it = attempts_.emplace(std::string(key), std::deque<Clock::time_point>{}).first;
  auto& times = it->second;
  while (!times.empty() && times.front() <= now - window_) times.pop_front();
  if (times.size() >= limit_) return false;
  times.push_back(now);
  return true;
}

std::size_t RateLimiter::keys() const {
  std::lock_guard lock(mutex_);
  return attempts_.size();
}

// Forgets keys whose last attempt left the window; runs at most once a minute (or once a
// window, if shorter), so an allow() costs O(1) amortised.
void RateLimiter::purge_locked(Clock::time_point now) {
  if (now < next_purge_) return;
  std::erase_if(attempts_, [&](const auto& kv) { return kv.second.empty() || kv.second.back() <= now - window_; });
  next_purge_ = now + std::min<Clock::duration>(window_, std::chrono::minutes(1));
}

}  // namespace parley::modules::registration
