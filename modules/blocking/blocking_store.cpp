#include "modules/blocking/blocking_store.hpp"

namespace parley::modules::blocking::store {

void prepare(storage::Database& db) {
  db.prepare("blocking.load",
             "SELECT jid FROM blocklist_items WHERE server_host = $1 AND username = $2 "
             "ORDER BY created_at, jid");
  db.prepare("blocking.add",
             "INSERT INTO blocklist_items (server_host, username, jid) VALUES ($1, $2, $3) "
             "ON CONFLICT DO NOTHING");
  db.prepare("blocking.count",
             "SELECT count(*) FROM blocklist_items WHERE server_host = $1 AND username = $2");
  db.prepare("blocking.remove",
             "DELETE FROM blocklist_items WHERE server_host = $1 AND username = $2 AND jid = $3");
  db.prepare("blocking.clear", "DELETE FROM blocklist_items WHERE server_host = $1 AND username = $2");
}

std::vector<std::string> load(pqxx::connection& c, const server::Jid& account) {
  pqxx::read_transaction tx{c};
  std::vector<std::string> items;
  for (const auto& row : tx.exec_prepared("blocking.load", std::string(account.domain()),
                                          std::string(account.local()))) {
    items.push_back(row[0].as<std::string>());
  }
  return items;
}

AddOutcome add(pqxx::connection& c, const server::Jid& account, const std::vector<std::string>& items,
               std::size_t max_items) {
  std::string host(account.domain()), user(account.local());
  pqxx::work tx{c};
  for (const auto& item : items) tx.exec_prepared("blocking.add", host, user, item);
  auto count = tx.exec_prepared("blocking.count", host, user)[0][0].as<std::size_t>();
  if (count > max_items) return AddOutcome::too_many;  // rolled back with the transaction
  tx.commit();
  return AddOutcome::added;
}

void remove(pqxx::connection& c, const server::Jid& account, const std::vector<std::string>& items) {
  std::string host(account.domain()), user(account.local());
  pqxx::work tx{c};
  if (items.empty()) {
    tx.exec_prepared("blocking.clear", host, user);
  } else {
    for (const auto& item : items) tx.exec_prepared("blocking.remove", host, user, item);
  }
  tx.commit();
}

}  // namespace parley::modules::blocking::store
