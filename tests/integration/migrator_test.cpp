// Migrations against a real PostgreSQL: applied once, recorded with checksums, serialised
// between concurrent migrators, and refused when a landed file changed.
#include "storage/migrator.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/test_database.hpp"

namespace parley::storage {
namespace {

using test::TestDatabase;

std::vector<Migration> sample() {
  return {{1, "0001_one.sql", "CREATE TABLE one (id integer PRIMARY KEY);"},
          {2, "0002_two.sql", "CREATE TABLE two (id integer REFERENCES one);\nINSERT INTO one VALUES (1);"}};
}

int count(pqxx::connection& c, const std::string& sql) {
  pqxx::read_transaction tx{c};
  return tx.exec(sql)[0][0].as<int>();
}

TEST(Migrator, AppliesOnceThenIsANoOp) {
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  EXPECT_EQ(pending_migrations(c, sample()), (std::vector<std::string>{"0001_one.sql", "0002_two.sql"}));
  EXPECT_EQ(apply_migrations(c, sample()), (std::vector<std::string>{"0001_one.sql", "0002_two.sql"}));
  EXPECT_TRUE(apply_migrations(c, sample()).empty());
  EXPECT_TRUE(pending_migrations(c, sample()).empty());
  EXPECT_EQ(count(c, "SELECT count(*) FROM one"), 1);  // the INSERT ran exactly once
  EXPECT_EQ(count(c, "SELECT count(*) FROM parley_schema_migrations"), 2);
  pqxx::read_transaction tx{c};
  EXPECT_EQ(tx.exec("SELECT checksum FROM parley_schema_migrations WHERE version = 2")[0][0].as<std::string>(),
            migration_checksum(sample()[1]));
}

TEST(Migrator, NewMigrationIsAppliedLater) {
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  auto first = sample();
  first.pop_back();
  apply_migrations(c, first);
  EXPECT_EQ(apply_migrations(c, sample()), std::vector<std::string>{"0002_two.sql"});
}

TEST(Migrator, ChangedChecksumIsRefused) {
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  apply_migrations(c, sample());
  auto changed = sample();
  changed[0].sql += "\n-- edited after landing";
  try {
    apply_migrations(c, changed);
    FAIL() << "an edited migration was accepted";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("0001_one.sql changed after it was applied"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(pending_migrations(c, changed), MigrationError);
}

TEST(Migrator, DatabaseFromANewerVersionIsRefused) {
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  apply_migrations(c, sample());
  auto older = sample();
  older.pop_back();
  try {
    apply_migrations(c, older);
    FAIL() << "a database with an unknown migration was accepted";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("0002_two.sql"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST(Migrator, FailingMigrationIsRolledBack) {
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  auto bad = sample();
  bad.push_back({3, "0003_bad.sql", "CREATE TABLE three (id integer);\nSELECT no_such_function();"});
  EXPECT_THROW(apply_migrations(c, bad), MigrationError);
  EXPECT_EQ(count(c, "SELECT count(*) FROM parley_schema_migrations"), 2);
  EXPECT_EQ(count(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'three'"), 0);
}

TEST(Migrator, ConcurrentMigratorsBothSucceedAndApplyEachFileOnce) {
  TestDatabase db;
  std::vector<std::string> applied[4];
  std::string errors[4];
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection c{db.conninfo()};
        applied[i] = apply_migrations(c, sample());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "");
    total += applied[i].size();
  }
  EXPECT_EQ(total, 2u);
  pqxx::connection c{db.conninfo()};
  EXPECT_EQ(count(c, "SELECT count(*) FROM one"), 1);
}

TEST(Migrator, BuiltinMigrationsAreNumberedAndApply) {
  const auto& all = builtin_migrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().file, "0001_accounts.sql");
  TestDatabase db;
  pqxx::connection c{db.conninfo()};
  EXPECT_EQ(apply_migrations(c, all).size(), all.size());
  EXPECT_EQ(count(c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('accounts', 'scram_credentials')"), 2);
}

}  // namespace
}  // namespace parley::storage
