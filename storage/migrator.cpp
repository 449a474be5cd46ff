#include "storage/migrator.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <map>

namespace parley::storage {
namespace {

// Any constant works, as long as every parley uses the same one: "parley" in ASCII.
constexpr long long kMigrationLockKey = 0x7061726c6579;

// Migrations run without the pool's query_timeout (statement_timeout): a migration may
// rewrite a large table, and a second parley waits on the advisory lock for as long as the
// first one migrates. SET LOCAL lasts until the end of the transaction, so the connection
// goes back to the pool with its bound.
void no_statement_timeout(pqxx::transaction_base& tx) { tx.exec("SET LOCAL statement_timeout = 0"); }

struct Applied {
  std::string file;
  std::string checksum;
};

void ensure_table(pqxx::connection& conn) {
  pqxx::work tx{conn};
  no_statement_timeout(tx);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS parley_schema_migrations ("
      " version integer PRIMARY KEY,"
      " file text NOT NULL,"
      " checksum text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  tx.commit();
}

std::map<int, Applied> read_applied(pqxx::connection& conn) {
  pqxx::read_transaction tx{conn};
  std::map<int, Applied> applied;
  for (const auto& row : tx.exec("SELECT version, file, checksum FROM parley_schema_migrations")) {
    applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

// Holds the advisory lock for its lifetime (session level: it outlives the transaction that
// took it, and is released on disconnect too).
class MigrationLock {
 public:
  explicit MigrationLock(pqxx::connection& conn) : conn_(conn) {
    pqxx::work tx{conn_};
    no_statement_timeout(tx);  // waits as long as another parley migrates
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    tx.commit();
  }
  ~MigrationLock() {
    try {
      pqxx::nontransaction tx{conn_};
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (...) {
      // The connection is gone, and the lock with it.
    }
  }

 private:
  pqxx::connection& conn_;
};

// Checks the recorded history against the files; returns those not applied yet.
std::vector<const Migration*> plan(const std::map<int, Applied>& applied,
                                   const std::vector<Migration>& migrations) {
  std::map<int, const Migration*> known;
  int previous = 0;
  for (const auto& m : migrations) {
    if (m.version <= previous) {
      throw MigrationError(fmt::format("migration {} is out of order or numbered twice", m.file));
    }
    previous = m.version;
    known[m.version] = &m;
  }
  std::vector<const Migration*> pending;
  for (const auto& [version, record] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      throw MigrationError(fmt::format(
          "the database has migration {} applied, which this parley does not know: it was "
          "migrated by a newer version of parley. Run that version, or restore a backup "
          "taken before the upgrade",
          record.file));
    }
    auto sum = migration_checksum(*it->second);
    if (sum != record.checksum) {
      throw MigrationError(fmt::format(
          "migration {} changed after it was applied to this database (recorded checksum {}, "
          "file now {}). Landed migrations are never edited: restore the file and put the "
          "change in a new migration",
          it->second->file, record.checksum.substr(0, 12), sum.substr(0, 12)));
    }
  }
  for (const auto& m : migrations) {
    if (!applied.count(m.version)) pending.push_back(&m);
  }
  return pending;
}

}  // namespace

std::string migration_checksum(const Migration& migration) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(migration.sql.data(), migration.sql.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          const std::vector<Migration>& migrations) {
  MigrationLock lock{conn};
  ensure_table(conn);
  std::vector<std::string> done;
  for (const Migration* m : plan(read_applied(conn), migrations)) {
    try {
      pqxx::work tx{conn};
      no_statement_timeout(tx);
      tx.exec(m->sql);
      tx.exec_params("INSERT INTO parley_schema_migrations (version, file, checksum) VALUES ($1, $2, $3)",
                     m->version, m->file, migration_checksum(*m));
      tx.commit();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      throw MigrationError(fmt::format("migration {} failed and was rolled back: {}", m->file, e.what()));
    }
    done.push_back(m->file);
  }
  return done;
}

std::vector<std::string> pending_migrations(pqxx::connection& conn,
                                            const std::vector<Migration>& migrations) {
  bool has_table = false;
  {
    pqxx::read_transaction tx{conn};
    has_table = tx.exec("SELECT to_regclass('parley_schema_migrations') IS NOT NULL")[0][0].as<bool>();
  }
  std::map<int, Applied> applied;
  if (has_table) applied = read_applied(conn);
  std::vector<std::string> files;
  for (const Migration* m : plan(applied, migrations)) files.push_back(m->file);
  return files;
}

}  // namespace parley::storage
