#pragma once
// The SQL of the blocking module: table blocklist_items (migrations/0005_blocking_vcard_private.sql).
// Functions take a pooled connection and throw libpqxx exceptions, which
// storage::Runner::run() turns into storage::Error; call them only from the storage pool.

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "server/jid.hpp"
#include "storage/database.hpp"

namespace parley::modules::blocking::store {

/// Registers the named statements. Idempotent (the same SQL under the same name).
void prepare(storage::Database& db);

/// The account's blocked JIDs, oldest first.
std::vector<std::string> load(pqxx::connection& c, const server::Jid& account);

enum class AddOutcome { added, too_many };

/// Adds `items` (those already there are kept as they are) in one transaction, unless the
/// list would then hold more than `max_items`: then nothing changes.
AddOutcome add(pqxx::connection& c, const server::Jid& account, const std::vector<std::string>& items,
               std::size_t max_items);

/// Removes `items`; all of the account's items when `items` is empty (XEP-0191 §3.5).
void remove(pqxx::connection& c, const server::Jid& account, const std::vector<std::string>& items);

}  // namespace parley::modules::blocking::store
