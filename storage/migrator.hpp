#pragma once
// Forward-only schema migrations (migrations/NNNN_name.sql, embedded in the binary).
//
// Each migration runs in its own transaction and is recorded with the SHA-256 of its text in
// parley_schema_migrations. Concurrent migrators are serialised by a PostgreSQL advisory
// lock, so two processes starting at once both succeed and apply each file once. A landed
// migration whose text changed, or a database migrated by a newer parley, stops start-up
// with a MigrationError that says which file and what to do.

#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::storage {

struct Migration {
  int version;       ///< NNNN from the file name; strictly increasing
  std::string file;  ///< e.g. "0001_accounts.sql"
  std::string sql;
};

struct MigrationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The migrations compiled into this binary, in order (generated from migrations/).
const std::vector<Migration>& builtin_migrations();

/// SHA-256 of the migration text, lower-case hex.
std::string migration_checksum(const Migration& migration);

/// Applies what is not applied yet; returns the files applied now (empty: up to date).
/// Throws MigrationError on a changed or unknown migration, or when one fails (that one is
/// rolled back; those before it stay applied).
std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          const std::vector<Migration>& migrations);

/// The files not applied yet, without applying anything. Throws MigrationError as above.
std::vector<std::string> pending_migrations(pqxx::connection& conn,
                                            const std::vector<Migration>& migrations);

}  // namespace parley::storage
