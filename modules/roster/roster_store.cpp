// SQL for the roster tables (migrations/0002_roster.sql), as named prepared statements.
// Groups travel as one text joined with U+0001 (roster_logic.hpp), so no array type has to
// cross libpqxx 6, which has no conversion for them.
#include "modules/roster/roster_store.hpp"

namespace parley::modules::roster::store {
namespace {

constexpr const char* kItemColumns =
    "contact_jid, name, subscription, ask, approved, array_to_string(groups, chr(1))";

RosterItem read_item(const pqxx::row& r) {
  RosterItem item;
  item.jid = r[0].as<std::string>();
  if (!r[1].is_null()) item.name = r[1].as<std::string>();
  item.subscription = parse_subscription(r[2].as<std::string>()).value_or(Subscription::none);
  item.ask = r[3].as<bool>();
  item.approved = r[4].as<bool>();
  item.groups = split_groups(r[5].is_null() ? std::string() : r[5].as<std::string>());
  return item;
}

// Locks the account's roster (its version row, created on first use) and returns its version.
std::int64_t lock(pqxx::work& tx, const Account& a) {
  tx.exec_prepared("roster.version_ensure", a.host, a.user);
  return tx.exec_prepared1("roster.version_lock", a.host, a.user)[0].as<std::int64_t>();
}

std::int64_t bump(pqxx::work& tx, const Account& a) {
  return tx.exec_prepared1("roster.version_bump", a.host, a.user)[0].as<std::int64_t>();
}

std::int64_t read_version(pqxx::transaction_base& tx, const Account& a) {
  auto r = tx.exec_prepared("roster.version_get", a.host, a.user);
  return r.empty() ? 0 : r[0][0].as<std::int64_t>();
}

std::optional<RosterItem> read_one(pqxx::transaction_base& tx, const Account& a, const std::string& contact) {
  auto r = tx.exec_prepared("roster.item_get", a.host, a.user, contact);
  if (r.empty()) return std::nullopt;
  return read_item(r[0]);
}

std::vector<RosterItem> read_all(pqxx::transaction_base& tx, const Account& a) {
  std::vector<RosterItem> items;
  for (const auto& row : tx.exec_prepared("roster.items", a.host, a.user)) items.push_back(read_item(row));
  return items;
}

bool has_request(pqxx::transaction_base& tx, const Account& a, const std::string& contact) {
  return !tx.exec_prepared("roster.request_get", a.host, a.user, contact).empty();
}

std::size_t count_items(pqxx::transaction_base& tx, const Account& a) {
  return tx.exec_prepared1("roster.item_count", a.host, a.user)[0].as<std::size_t>();
}

}  // namespace

void prepare(storage::Database& db) {
  db.prepare("roster.version_ensure",
             "INSERT INTO roster_versions (server_host, username) VALUES ($1, $2) ON CONFLICT DO NOTHING");
  db.prepare("roster.version_lock",
             "SELECT version FROM roster_versions WHERE server_host = $1 AND username = $2 FOR UPDATE");
  db.prepare("roster.version_get",
             "SELECT version FROM roster_versions WHERE server_host = $1 AND username = $2");
  db.prepare("roster.version_bump",
             "UPDATE roster_versions SET version = version + 1 WHERE server_host = $1 AND username = $2 "
             "RETURNING version");
  db.prepare("roster.account_exists", "SELECT 1 FROM accounts WHERE server_host = $1 AND username = $2");
  db.prepare("roster.items", std::string("SELECT ") + kItemColumns +
                                 " FROM roster_items WHERE server_host = $1 AND username = $2 ORDER BY contact_jid");
  db.prepare("roster.item_get", std::string("SELECT ") + kItemColumns +
                                    " FROM roster_items WHERE server_host = $1 AND username = $2 AND contact_jid = $3");
  db.prepare("roster.item_count", "SELECT count(*) FROM roster_items WHERE server_host = $1 AND username = $2");
  db.prepare("roster.item_insert",
             "INSERT INTO roster_items (server_host, username, contact_jid, name, groups) "
             "VALUES ($1, $2, $3, NULLIF($4, ''), string_to_array($5, chr(1)))");
  db.prepare("roster.item_update_details",
             "UPDATE roster_items SET name = NULLIF($4, ''), groups = string_to_array($5, chr(1)), updated_at = now() "
             "WHERE server_host = $1 AND username = $2 AND contact_jid = $3");
  db.prepare("roster.item_upsert_state",
             "INSERT INTO roster_items (server_host, username, contact_jid, subscription, ask, approved) "
             "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (server_host, username, contact_jid) DO UPDATE "
             "SET subscription = EXCLUDED.subscription, ask = EXCLUDED.ask, approved = EXCLUDED.approved, "
             "updated_at = now()");
  db.prepare("roster.item_delete",
             "DELETE FROM roster_items WHERE server_host = $1 AND username = $2 AND contact_jid = $3");
  db.prepare("roster.request_get",
             "SELECT 1 FROM roster_subscription_requests WHERE server_host = $1 AND username = $2 AND contact_jid = $3");
  db.prepare("roster.request_insert",
             "INSERT INTO roster_subscription_requests (server_host, username, contact_jid, status) "
             "VALUES ($1, $2, $3, NULLIF($4, '')) ON CONFLICT DO NOTHING");
  db.prepare("roster.request_delete",
             "DELETE FROM roster_subscription_requests WHERE server_host = $1 AND username = $2 AND contact_jid = $3");
  db.prepare("roster.requests",
             "SELECT contact_jid, status FROM roster_subscription_requests WHERE server_host = $1 AND username = $2 "
             "ORDER BY received_at, contact_jid");
}

Roster load(pqxx::connection& c, const Account& a) {
  pqxx::read_transaction tx(c);
  Roster r;
  r.version = read_version(tx, a);
  r.items = read_all(tx, a);
  return r;
}

std::optional<RosterItem> find(pqxx::connection& c, const Account& a, const std::string& contact,
                               bool* account_exists) {
  // Autocommit, as snapshot() below: every probe of a local contact asks this, and a
  // read-only transaction would add a BEGIN and a ROLLBACK round trip to each.
  pqxx::nontransaction tx(c);
  if (account_exists != nullptr) {
    *account_exists = !tx.exec_prepared("roster.account_exists", a.host, a.user).empty();
    if (!*account_exists) return std::nullopt;
  }
  return read_one(tx, a, contact);
}

Snapshot snapshot(pqxx::connection& c, const Account& a) {
  // Autocommit: at READ COMMITTED a read-only transaction would give each statement its own
  // snapshot anyway, and only add a BEGIN and a ROLLBACK round trip to every initial presence.
  pqxx::nontransaction tx(c);
  Snapshot s;
  s.roster.version = read_version(tx, a);
  s.roster.items = read_all(tx, a);
  for (const auto& row : tx.exec_prepared("roster.requests", a.host, a.user)) {
    Request req{row[0].as<std::string>(), std::nullopt};
    if (!row[1].is_null()) req.status = row[1].as<std::string>();
    s.requests.push_back(std::move(req));
  }
  return s;
}

SetOutcome set_item(pqxx::connection& c, const Account& a, const RosterSet& set, std::size_t max_items) {
  pqxx::work tx(c);
  SetOutcome out;
  out.version = lock(tx, a);
  auto existing = read_one(tx, a, set.jid);
  if (set.remove) {
    if (!existing) {
      out.kind = SetOutcome::Kind::not_found;
      return out;
    }
    out.item = *existing;
    out.pending_in = has_request(tx, a, set.jid);
    tx.exec_prepared("roster.item_delete", a.host, a.user, set.jid);
    tx.exec_prepared("roster.request_delete", a.host, a.user, set.jid);
  } else if (existing) {
    tx.exec_prepared("roster.item_update_details", a.host, a.user, set.jid, set.name.value_or(""),
                     join_groups(set.groups));
    out.item = *existing;
    out.item.name = set.name;
    out.item.groups = set.groups;
  } else {
    if (count_items(tx, a) >= max_items) {
      out.kind = SetOutcome::Kind::too_many;
      return out;
    }
    tx.exec_prepared("roster.item_insert", a.host, a.user, set.jid, set.name.value_or(""), join_groups(set.groups));
    out.item = RosterItem{set.jid, set.name, Subscription::none, false, false, set.groups};
  }
  out.version = bump(tx, a);
  tx.commit();
  return out;
}

SubscriptionOutcome apply(pqxx::connection& c, const Account& a, const std::string& contact,
                          Direction direction, SubscriptionType type, bool pre_approval,
                          std::size_t max_items, const std::optional<std::string>& status) {
  pqxx::work tx(c);
  SubscriptionOutcome out;
  if (direction == Direction::inbound && tx.exec_prepared("roster.account_exists", a.host, a.user).empty()) {
    out.account_exists = false;
    return out;
  }
  out.version = lock(tx, a);
  auto existing = read_one(tx, a, contact);
  out.before = existing ? existing->state() : SubState{};
  out.before.pending_in = has_request(tx, a, contact);
  out.transition = direction == Direction::outbound ? outbound(out.before, type, pre_approval)
                                                    : inbound(out.before, type);
  const SubState& after = out.transition.state;

  bool needed = existing || after.subscription != Subscription::none || after.pending_out || after.approved;
  if (!existing && needed && count_items(tx, a) >= max_items) {
    out.too_many = true;
    out.transition = Transition{out.before};
    return out;
  }
  out.roster_changed = needed && (!existing || after.subscription != out.before.subscription ||
                                  after.pending_out != out.before.pending_out || after.approved != out.before.approved);
  if (out.roster_changed) {
    tx.exec_prepared("roster.item_upsert_state", a.host, a.user, contact, std::string(to_string(after.subscription)),
                     after.pending_out, after.approved);
    out.item = existing.value_or(RosterItem{contact, std::nullopt, Subscription::none, false, false, {}});
    out.item.subscription = after.subscription;
    out.item.ask = after.pending_out;
    out.item.approved = after.approved;
    out.version = bump(tx, a);
  }
  if (after.pending_in && !out.before.pending_in) {
    tx.exec_prepared("roster.request_insert", a.host, a.user, contact, status.value_or(""));
  } else if (!after.pending_in && out.before.pending_in) {
    tx.exec_prepared("roster.request_delete", a.host, a.user, contact);
  }
  tx.commit();
  return out;
}

}  // namespace parley::modules::roster::store
