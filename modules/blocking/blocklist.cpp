#include "modules/blocking/blocklist.hpp"

namespace parley::modules::blocking {

BlockList::BlockList(std::vector<std::string> items) {
  items_.reserve(items.size());
  for (auto& item : items) {
    if (set_.insert(item).second) items_.push_back(std::move(item));
  }
}

bool BlockList::blocks(const server::Jid& address) const {
  if (set_.empty()) return false;
  const std::string& full = address.full();
  // XEP-0191 §6, rules 1 and 3: the exact address (user@domain/resource, domain/resource).
  if (set_.contains(std::string_view(full))) return true;
  // Rule 2: user@domain, any resource.
  if (address.has_local()) {
    std::string_view bare(full.data(), address.local().size() + 1 + address.domain().size());
    if (set_.contains(bare)) return true;
  }
  // Rule 4: the domain, and everything at it.
  return set_.contains(address.domain());
}

bool exempt(const server::Jid& account, const server::Jid& peer) {
  if (peer.local() == account.local() && peer.domain() == account.domain()) return true;
  return !peer.has_local() && peer.is_bare() && peer.domain() == account.domain();
}

}  // namespace parley::modules::blocking
