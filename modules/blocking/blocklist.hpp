#pragma once
// One account's blocklist (XEP-0191) and the JID matching rules of XEP-0191 §6 (those of
// XEP-0016 §2.1). Pure logic, no I/O: unit-tested in tests/unit/modules/blocking_test.cpp.

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "server/jid.hpp"

namespace parley::modules::blocking {

/// The blocked JIDs of one account, in canonical form (Jid::full()). An item
///   user@domain/resource  blocks only that full JID;
///   user@domain           blocks the bare JID and every resource of it;
///   domain/resource       blocks only that full JID of the domain;
///   domain                blocks the domain itself, every user@domain and every domain/resource
///                         (not subdomains: XEP-0191 1.3 dropped them from the rule).
/// Immutable once built, so one instance may be read from any number of threads.
class BlockList {
 public:
  BlockList() = default;
  /// `items`: canonical JID strings (as stored); duplicates are ignored.
  explicit BlockList(std::vector<std::string> items);

  /// Whether a stanza from (or to) `address` falls under one of the items.
  bool blocks(const server::Jid& address) const;
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  /// The items, in the order they were given.
  const std::vector<std::string>& items() const { return items_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> items_;
  // The canonical forms never collide across the four kinds: a full JID has a '/', a bare
  // JID an '@' and no '/', a domain neither, so one set and three lookups implement §6.
  std::unordered_set<std::string, Hash, std::equal_to<>> set_;
};

/// Whether the rules of XEP-0191 never apply between `account` (a bare JID of this server)
/// and `peer`: one's own resources (XEP-0191 §5 note: never block between one's own
/// resources) and one's own server's domain JID, which answers the account's requests.
bool exempt(const server::Jid& account, const server::Jid& peer);

}  // namespace parley::modules::blocking
