#include "server/router/session_table.hpp"

#include <algorithm>
#include <mutex>

namespace parley::server::router {

std::shared_ptr<ClientSession> SessionTable::bind(const std::shared_ptr<ClientSession>& session) {
  std::unique_lock lock(mutex_);
  auto& list = by_bare_[session->jid().bare().str()];
  std::shared_ptr<ClientSession> replaced;
  for (auto& s : list) {
    if (s->jid().resource() == session->jid().resource()) {
      replaced = std::move(s);
      s = session;
      return replaced;
    }
  }
  list.push_back(session);
  ++size_;
  return nullptr;
}

void SessionTable::unbind(const ClientSession& session) {
  std::unique_lock lock(mutex_);
  auto it = by_bare_.find(session.jid().bare().str());
  if (it == by_bare_.end()) return;
  auto n = std::erase_if(it->second, [&](const auto& s) { return s.get() == &session; });
  size_ -= n;
  if (it->second.empty()) by_bare_.erase(it);
}

std::size_t SessionTable::count(const Jid& bare) const {
  std::shared_lock lock(mutex_);
  auto it = by_bare_.find(bare.bare().str());
  return it == by_bare_.end() ? 0 : it->second.size();
}

std::size_t SessionTable::size() const {
  std::shared_lock lock(mutex_);
  return size_;
}

std::shared_ptr<ClientSession> SessionTable::find(const Jid& full) const {
  std::shared_lock lock(mutex_);
  auto it = by_bare_.find(full.bare().str());
  if (it == by_bare_.end()) return nullptr;
  for (const auto& s : it->second) {
    if (s->jid().resource() == full.resource()) return s;
  }
  return nullptr;
}

std::vector<std::shared_ptr<ClientSession>> SessionTable::of_account(const Jid& bare) const {
  std::shared_lock lock(mutex_);
  auto it = by_bare_.find(bare.bare().str());
  return it == by_bare_.end() ? std::vector<std::shared_ptr<ClientSession>>{} : it->second;
}

}  // namespace parley::server::router

namespace parley::server::router {

void SessionTable::for_each(const std::function<void(const std::shared_ptr<ClientSession>&)>& f) const {
  std::vector<std::shared_ptr<ClientSession>> all;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [bare, list] : by_bare_) all.insert(all.end(), list.begin(), list.end());
  }
  for (const auto& s : all) f(s);
}

}  // namespace parley::server::router
