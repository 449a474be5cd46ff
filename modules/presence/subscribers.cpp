#include "modules/presence/subscribers.hpp"

#include <utility>

namespace parley::modules::presence {

void SubscriberCache::begin_load(const std::string& account) {
  std::lock_guard lock(mutex_);
  ++entries_[account].loading;
}

void SubscriberCache::end_load(const std::string& account, std::int64_t version,
                               std::unordered_set<std::string> from) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it == entries_.end()) return;  // not begun: nothing was kept for it
  Entry& e = it->second;
  if (e.loading > 0) --e.loading;
  // An older snapshot than the one applied adds nothing: the changes since are in `changed`.
  if (e.ready && version <= e.base) return;
  e.ready = true;
  e.base = version;
  e.from = std::move(from);
  // What the snapshot already shows is dropped; later changes stay on top of it.
  std::erase_if(e.changed, [version](const auto& c) { return c.second.first <= version; });
}

void SubscriberCache::abandon_load(const std::string& account) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it == entries_.end()) return;
  if (it->second.loading > 0) --it->second.loading;
  if (!it->second.ready && it->second.loading == 0) entries_.erase(it);
}

void SubscriberCache::change(const std::string& account, const std::string& contact, bool has_from,
                             std::int64_t version) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it == entries_.end()) return;  // not cached: the database is asked
  Entry& e = it->second;
  if (e.ready && version <= e.base) return;  // the applied snapshot shows it already
  auto [c, added] = e.changed.try_emplace(contact, version, has_from);
  if (!added && version > c->second.first) c->second = {version, has_from};
}

std::optional<bool> SubscriberCache::subscribed(const std::string& account, const std::string& contact) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it == entries_.end() || !it->second.ready) return std::nullopt;
  const Entry& e = it->second;
  if (auto c = e.changed.find(contact); c != e.changed.end()) return c->second.second;
  return e.from.contains(contact);
}

void SubscriberCache::forget(const std::string& account) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it != entries_.end() && it->second.loading == 0) entries_.erase(it);
}

std::size_t SubscriberCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace parley::modules::presence
