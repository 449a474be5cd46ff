#include "modules/vcard/vcard_store.hpp"

namespace parley::modules::vcard::store {

void prepare(storage::Database& db) {
  db.prepare("vcard.get", "SELECT vcard FROM vcards WHERE server_host = $1 AND username = $2");
  db.prepare("vcard.set",
             "INSERT INTO vcards (server_host, username, vcard) VALUES ($1, $2, $3) "
             "ON CONFLICT (server_host, username) DO UPDATE SET vcard = EXCLUDED.vcard, updated_at = now()");
  db.prepare("vcard.delete", "DELETE FROM vcards WHERE server_host = $1 AND username = $2");
}

std::optional<std::string> get(pqxx::connection& c, const server::Jid& account) {
  pqxx::read_transaction tx{c};
  auto rows = tx.exec_prepared("vcard.get", std::string(account.domain()), std::string(account.local()));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

void set(pqxx::connection& c, const server::Jid& account, const std::optional<std::string>& xml) {
  pqxx::work tx{c};
  if (xml) {
    tx.exec_prepared("vcard.set", std::string(account.domain()), std::string(account.local()), *xml);
  } else {
    tx.exec_prepared("vcard.delete", std::string(account.domain()), std::string(account.local()));
  }
  tx.commit();
}

}  // namespace parley::modules::vcard::store
