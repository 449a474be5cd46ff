#pragma once
// The offline_messages table (migrations/0003_offline.sql): the SQL of the offline module,
// in named prepared statements (like ejabberd's mod_offline_sql.erl).
//
// Every function blocks while it talks to PostgreSQL: call them only on the storage pool
// (inside `co_await host.storage().run(...)`), never on a network thread. Thread-safe.

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "server/jid.hpp"
#include "storage/database.hpp"

namespace parley::modules::offline {

/// Registers the statements with the pool. Call in the module's start(); registering them
/// again (one call per host) is harmless, the definitions are the same.
void prepare_statements(storage::Database& db);

enum class StoreOutcome {
  stored,      ///< committed
  no_account,  ///< the account does not exist (any more)
  full,        ///< the account already has `quota` messages waiting
};

/// Stores one message for `account` (a bare JID) and commits, unless the account is missing
/// or already holds `quota` messages. The account's row is locked for the transaction, so
/// concurrent stores for one account are serialised: the quota holds exactly and `seq`
/// follows arrival order.
StoreOutcome store_message(pqxx::connection& conn, const server::Jid& account,
                           const std::string& stanza_xml, std::int64_t quota);

struct StoredMessage {
  std::int64_t seq;
  std::string stanza;  ///< as written by to_storage()
  std::string stamp;   ///< when it was stored, XEP-0082 DateTime in UTC
};

/// Deletes up to `limit` of the account's oldest messages inside `tx` and returns them, oldest
/// first. The deletion is undone unless the caller commits `tx` — which it does only once the
/// messages are handed to the client. Concurrent takers wait for each other's rows, so a
/// message is taken by one transaction only.
std::vector<StoredMessage> take_messages(pqxx::work& tx, const server::Jid& account, int limit);

/// How many messages wait for `account`.
std::int64_t count_messages(pqxx::connection& conn, const server::Jid& account);

}  // namespace parley::modules::offline
