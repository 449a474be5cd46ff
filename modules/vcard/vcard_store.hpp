#pragma once
// The SQL of the vcard module: table vcards (migrations/0005_blocking_vcard_private.sql).
// Functions take a pooled connection and throw libpqxx exceptions, which
// storage::Runner::run() turns into storage::Error; call them only from the storage pool.

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "server/jid.hpp"
#include "storage/database.hpp"

namespace parley::modules::vcard::store {

/// Registers the named statements. Idempotent (the same SQL under the same name).
void prepare(storage::Database& db);

/// The account's vCard as XML text, or nullopt when it has none (or does not exist).
std::optional<std::string> get(pqxx::connection& c, const server::Jid& account);

/// Stores (replaces) the account's vCard; with nullopt, removes it.
void set(pqxx::connection& c, const server::Jid& account, const std::optional<std::string>& xml);

}  // namespace parley::modules::vcard::store
