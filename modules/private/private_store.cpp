#include "modules/private/private_store.hpp"

namespace parley::modules::private_storage::store {

void prepare(storage::Database& db) {
  db.prepare("private.get",
             "SELECT data FROM private_storage "
             "WHERE server_host = $1 AND username = $2 AND namespace = $3 AND element = $4");
  db.prepare("private.set",
             "INSERT INTO private_storage (server_host, username, namespace, element, data) "
             "VALUES ($1, $2, $3, $4, $5) "
             "ON CONFLICT (server_host, username, namespace, element) "
             "DO UPDATE SET data = EXCLUDED.data, updated_at = now()");
  db.prepare("private.total",
             "SELECT coalesce(sum(octet_length(data)), 0) FROM private_storage "
             "WHERE server_host = $1 AND username = $2");
}

std::vector<std::optional<std::string>> get(pqxx::connection& c, const server::Jid& account,
                                            const std::vector<Key>& keys) {
  std::string host(account.domain()), user(account.local());
  pqxx::read_transaction tx{c};
  std::vector<std::optional<std::string>> found;
  for (const auto& key : keys) {
    auto rows = tx.exec_prepared("private.get", host, user, key.ns, key.name);
    if (rows.empty()) {
      found.emplace_back();
    } else {
      found.emplace_back(rows[0][0].as<std::string>());
    }
  }
  return found;
}

SetOutcome set(pqxx::connection& c, const server::Jid& account, const std::vector<Fragment>& fragments,
               std::size_t max_total_bytes) {
  std::string host(account.domain()), user(account.local());
  pqxx::work tx{c};
  for (const auto& f : fragments) tx.exec_prepared("private.set", host, user, f.key.ns, f.key.name, f.xml);
  auto total = tx.exec_prepared("private.total", host, user)[0][0].as<std::size_t>();
  if (total > max_total_bytes) return SetOutcome::over_quota;  // rolled back with the transaction
  tx.commit();
  return SetOutcome::stored;
}

}  // namespace parley::modules::private_storage::store
