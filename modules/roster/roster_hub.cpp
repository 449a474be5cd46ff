#include "modules/roster/roster_hub.hpp"

#include <map>

namespace parley::modules::roster {

Hub& Hub::of(std::string_view domain) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Hub>, std::less<>> hubs;
  std::lock_guard lock(mutex);
  auto it = hubs.find(domain);
  if (it == hubs.end()) it = hubs.emplace(std::string(domain), std::make_unique<Hub>()).first;
  return *it->second;
}

void Hub::add_interested(const std::shared_ptr<server::ClientSession>& session, bool versioning) {
  std::lock_guard lock(mutex_);
  auto& list = by_account_[session->jid().bare().str()];
  for (auto& e : list) {
    if (e.id == session.get()) {
      e.versioning = versioning;
      return;
    }
  }
  list.push_back({session, session.get(), versioning});
}

void Hub::remove(const server::ClientSession& session) {
  std::lock_guard lock(mutex_);
  auto it = by_account_.find(session.jid().bare().str());
  if (it == by_account_.end()) return;
  std::erase_if(it->second, [&](const Entry& e) { return e.id == &session || e.session.expired(); });
  if (it->second.empty()) by_account_.erase(it);
}

bool Hub::interested(const server::ClientSession& session) const {
  std::lock_guard lock(mutex_);
  auto it = by_account_.find(session.jid().bare().str());
  if (it == by_account_.end()) return false;
  for (const auto& e : it->second) {
    if (e.id == &session) return true;
  }
  return false;
}

std::uint64_t Hub::listen(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  std::uint64_t token = next_id_.fetch_add(1, std::memory_order_relaxed);
  listeners_.emplace_back(token, std::move(listener));
  return token;
}

void Hub::unlisten(std::uint64_t token) {
  std::lock_guard lock(listeners_mutex_);
  std::erase_if(listeners_, [token](const auto& l) { return l.first == token; });
}

void Hub::push(const server::Jid& account, const server::xml::Element& item, std::int64_t version) {
  {
    std::lock_guard lock(listeners_mutex_);
    for (const auto& [token, listener] : listeners_) listener(account.bare(), item, version);
  }
  std::vector<std::pair<std::shared_ptr<server::ClientSession>, bool>> targets;
  {
    std::lock_guard lock(mutex_);
    auto it = by_account_.find(account.bare().str());
    if (it == by_account_.end()) return;
    for (const auto& e : it->second) {
      if (auto s = e.session.lock()) targets.emplace_back(std::move(s), e.versioning);
    }
  }
  for (auto& [session, versioning] : targets) {
    // RFC 6121 §2.1.6: an iq set from the account's bare JID (or without 'from'), to the
    // resource, with exactly one item.
    server::xml::Element iq("iq", std::string(server::kClientNs));
    iq.set_attr("type", "set");
    iq.set_attr("id", "push" + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed)));
    auto& query = iq.add_child("query", std::string(kRosterNs));
    if (versioning) query.set_attr("ver", std::to_string(version));
    query.add_child(item);
    server::Stanza st{std::move(iq), server::StanzaKind::iq, "set", std::nullopt, session->jid()};
    st.sync_addresses();
    session->send(std::move(st));
  }
}

}  // namespace parley::modules::roster
