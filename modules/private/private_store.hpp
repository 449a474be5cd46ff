#pragma once
// The SQL of the private module: table private_storage
// (migrations/0005_blocking_vcard_private.sql). Functions take a pooled connection and throw
// libpqxx exceptions, which storage::Runner::run() turns into storage::Error; call them only
// from the storage pool.

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "server/jid.hpp"
#include "storage/database.hpp"

namespace parley::modules::private_storage::store {

/// Registers the named statements. Idempotent (the same SQL under the same name).
void prepare(storage::Database& db);

/// Which fragment: the namespace and local name of its element.
struct Key {
  std::string ns;
  std::string name;
};

/// The stored XML text of each key, in order; nullopt where nothing is stored.
std::vector<std::optional<std::string>> get(pqxx::connection& c, const server::Jid& account,
                                            const std::vector<Key>& keys);

struct Fragment {
  Key key;
  std::string xml;
};

enum class SetOutcome { stored, over_quota };

/// Stores (replaces) the fragments in one transaction, unless the account's fragments would
/// then add up to more than `max_total_bytes`: then nothing changes.
SetOutcome set(pqxx::connection& c, const server::Jid& account, const std::vector<Fragment>& fragments,
               std::size_t max_total_bytes);

}  // namespace parley::modules::private_storage::store
