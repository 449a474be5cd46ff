#pragma once
// The roster tables (migrations/0002_roster.sql): roster items, the roster version of each
// account and the inbound subscription requests not yet answered. Shared by the roster and
// presence modules, like ejabberd's mod_roster_sql.
//
// Every function blocks on the database: call them inside `co_await host.storage().run(f)`,
// never on a network thread. Each one is a single transaction; those that change state lock
// the account's roster_versions row first, so the changes of one account are serialised.
// Thread-safe (no state of its own).

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "modules/roster/roster_logic.hpp"
#include "storage/database.hpp"

namespace parley::modules::roster::store {

/// Registers the named statements ("roster.*"); called by every module that uses this store,
/// in start(). Registering the same statements twice is harmless.
void prepare(storage::Database& db);

/// Which account: its domain and (prepared) localpart.
struct Account {
  std::string host;
  std::string user;
  static Account of(const server::Jid& jid) { return {std::string(jid.domain()), std::string(jid.local())}; }
};

struct Roster {
  std::int64_t version = 0;
  std::vector<RosterItem> items;  ///< sorted by JID
};

/// The whole roster and its version.
Roster load(pqxx::connection& c, const Account& a);

/// One item, or nullopt. `exists` (if given) tells whether the account exists at all.
std::optional<RosterItem> find(pqxx::connection& c, const Account& a, const std::string& contact,
                               bool* account_exists = nullptr);

/// An inbound subscription request not yet answered (Pending In).
struct Request {
  std::string contact;
  std::optional<std::string> status;
};

/// What the account sees when it becomes available: its roster and its pending requests.
struct Snapshot {
  Roster roster;
  std::vector<Request> requests;  ///< oldest first
};
Snapshot snapshot(pqxx::connection& c, const Account& a);

/// The outcome of a roster set.
struct SetOutcome {
  enum class Kind { ok, not_found, too_many } kind = Kind::ok;
  RosterItem item;                 ///< the item after the change (before it, for a removal)
  bool pending_in = false;         ///< removal: a request from the contact was pending too
  std::int64_t version = 0;        ///< the roster's new version
};

/// Adds, updates or removes an item (RFC 6121 §2.3-§2.5). Adding beyond `max_items` items
/// gives too_many; removing an absent item not_found. A removal also forgets a pending
/// request from the contact. The subscription state of an existing item is kept.
SetOutcome set_item(pqxx::connection& c, const Account& a, const RosterSet& set, std::size_t max_items);

/// The outcome of a subscription stanza.
struct SubscriptionOutcome {
  bool account_exists = true;  ///< inbound: false when the account does not exist (§8.5.1)
  bool too_many = false;       ///< outbound: the roster is full, nothing changed
  SubState before;
  Transition transition;
  bool roster_changed = false;  ///< an item was created or its state changed: push it
  RosterItem item;              ///< the item after the change, when roster_changed
  std::int64_t version = 0;     ///< the roster's version after the change
};

enum class Direction { outbound, inbound };

/// Applies one subscription stanza (RFC 6121 Appendix A) between the account and `contact`
/// (a bare JID): reads the state, computes the transition (roster_logic.hpp), stores the new
/// state. An outbound subscribe or pre-approval creates the item when there is none, unless
/// the roster already has `max_items`. `status`: the <status/> of an inbound subscribe,
/// kept with the request.
SubscriptionOutcome apply(pqxx::connection& c, const Account& a, const std::string& contact,
                          Direction direction, SubscriptionType type, bool pre_approval,
                          std::size_t max_items, const std::optional<std::string>& status);

}  // namespace parley::modules::roster::store
