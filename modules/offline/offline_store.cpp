#include "modules/offline/offline_store.hpp"

#include <algorithm>

namespace parley::modules::offline {

void prepare_statements(storage::Database& db) {
  // FOR NO KEY UPDATE serialises stores for one account without blocking the foreign-key
  // checks (FOR KEY SHARE) that other tables make against the same row.
  db.prepare("offline.lock_account",
             "SELECT 1 FROM accounts WHERE server_host = $1 AND username = $2 FOR NO KEY UPDATE");
  db.prepare("offline.insert",
             "INSERT INTO offline_messages (server_host, username, stanza)"
             " SELECT $1, $2, $3"
             " WHERE (SELECT count(*) FROM offline_messages WHERE server_host = $1 AND username = $2) < $4"
             " RETURNING seq");
  // The oldest `$3` messages, locked, then deleted; rows another taker deleted meanwhile are
  // skipped when its transaction commits (READ COMMITTED re-check).
  db.prepare("offline.take",
             "DELETE FROM offline_messages WHERE server_host = $1 AND username = $2 AND seq IN"
             " (SELECT seq FROM offline_messages WHERE server_host = $1 AND username = $2"
             "  ORDER BY seq LIMIT $3 FOR UPDATE)"
             " RETURNING seq, stanza,"
             " to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
  db.prepare("offline.count",
             "SELECT count(*) FROM offline_messages WHERE server_host = $1 AND username = $2");
}

StoreOutcome store_message(pqxx::connection& conn, const server::Jid& account,
                           const std::string& stanza_xml, std::int64_t quota) {
  std::string host(account.domain()), user(account.local());
  pqxx::work tx{conn};
  if (tx.exec_prepared("offline.lock_account", host, user).empty()) return StoreOutcome::no_account;
  if (tx.exec_prepared("offline.insert", host, user, stanza_xml, quota).empty()) return StoreOutcome::full;
  tx.commit();
  return StoreOutcome::stored;
}

std::vector<StoredMessage> take_messages(pqxx::work& tx, const server::Jid& account, int limit) {
  std::vector<StoredMessage> out;
  auto rows = tx.exec_prepared("offline.take", std::string(account.domain()), std::string(account.local()), limit);
  out.reserve(rows.size());
  for (const auto& row : rows) {
    out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>()});
  }
  // DELETE ... RETURNING promises no order.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

std::int64_t count_messages(pqxx::connection& conn, const server::Jid& account) {
  pqxx::read_transaction tx{conn};
  return tx.exec_prepared("offline.count", std::string(account.domain()), std::string(account.local()))[0][0]
      .as<std::int64_t>();
}

}  // namespace parley::modules::offline
