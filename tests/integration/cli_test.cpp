// The `parley` command line end to end, against the suite's PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <future>
#include <thread>

#include "server/accounts.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace parley::test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_ / "parley.toml";
    write_config("");
  }
  void write_config(const std::string& extra) {
    write_file(config_, "[server]\ndata_dir = \"var\"\n\n[database]\nurl = \"" + db_.conninfo() +
                            "\"\n\n[security]\nscram_iterations = 4096\n\n[[host]]\ndomain = "
                            "\"example.org\"\n\n[[host]]\ndomain = \"example.net\"\n" + extra);
  }
  Ran cli(std::vector<std::string> args, const std::string& input = {}) {
    args.push_back("--config");
    args.push_back(config_);
    return parley(args, input);
  }

  TempDir dir_;
  TestDatabase db_;
  std::string config_;
};

TEST_F(Cli, UserLifecycle) {
  auto add = cli({"user", "add", "Alice@Example.org"}, "s3cret pass\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, "created alice@example.org\n");
  auto again = cli({"user", "add", "alice@example.org"}, "other\n");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.err;
  ASSERT_EQ(cli({"user", "add", "bob@example.org"}, "pw\n").exit_code, 0);
  ASSERT_EQ(cli({"user", "add", "carol@example.net"}, "pw\n").exit_code, 0);
  EXPECT_EQ(cli({"user", "list", "example.org"}).out, "alice@example.org\nbob@example.org\n");
  auto passwd = cli({"user", "passwd", "alice@example.org"}, "new pass\n");
  EXPECT_EQ(passwd.exit_code, 0) << passwd.err;
  // Without --yes, deletion asks; anything but yes keeps the account.
  auto keep = cli({"user", "del", "alice@example.org"}, "n\n");
  EXPECT_EQ(keep.exit_code, 1);
  EXPECT_TRUE(contains(keep.err, "Delete alice@example.org")) << keep.err;
  EXPECT_EQ(cli({"user", "list", "example.org"}).out, "alice@example.org\nbob@example.org\n");
  EXPECT_EQ(cli({"user", "del", "alice@example.org"}, "yes\n").exit_code, 0);
  EXPECT_EQ(cli({"--yes", "user", "del", "bob@example.org"}).exit_code, 0);
  EXPECT_EQ(cli({"user", "list", "example.org"}).out, "");
  EXPECT_EQ(cli({"user", "list", "example.net"}).out, "carol@example.net\n");
  auto gone = cli({"user", "del", "alice@example.org", "--yes"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(contains(gone.err, "does not exist")) << gone.err;
}

TEST_F(Cli, StoredCredentialsMatchThePasswordGiven) {
  ASSERT_EQ(cli({"user", "add", "alice@example.org"}, "pencil\n").exit_code, 0);
  ASSERT_EQ(cli({"user", "passwd", "alice@example.org"}, "crayon\n").exit_code, 0);
  auto secret = server::ServerSecret::load_or_create(dir_ / "var/secret.key");
  server::CredentialVault vault{secret};
  storage::Database db{db_.conninfo(), 1};
  server::AccountStore store{db, vault, 4096};
  auto l = store.scram_lookup(*server::Jid::parse("alice@example.org"), server::crypto::Hash::sha256);
  ASSERT_TRUE(l.ok() && l->keys);
  auto client = server::derive_scram_credential(server::crypto::Hash::sha256, "crayon", l->iterations, l->salt);
  EXPECT_EQ(client.keys.stored_key, l->keys->stored_key);
  EXPECT_EQ(l->iterations, 4096);
}

TEST_F(Cli, BadAccountsAndPasswordsAreRefused) {
  auto foreign = cli({"user", "add", "x@elsewhere.test"}, "pw\n");
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_TRUE(contains(foreign.err, "elsewhere.test is not a host")) << foreign.err;
  EXPECT_EQ(cli({"user", "add", "x@example.org/phone"}, "pw\n").exit_code, 2);
  EXPECT_EQ(cli({"user", "add", "example.org"}, "pw\n").exit_code, 2);
  auto empty = cli({"user", "add", "x@example.org"}, "\n");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_EQ(cli({"user", "add", "x@example.org"}, "").exit_code, 1);  // no input at all
  EXPECT_EQ(cli({"user", "list", "example.org"}).out, "");
}

TEST_F(Cli, ConfigErrorNamesTheKeyAndLine) {
  write_file(config_, "[server]\nthreads = 2\nthredas = 4\n");
  auto r = cli({"user", "list", "example.org"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "parley.toml:3")) << r.err;
  EXPECT_TRUE(contains(r.err, "server.thredas")) << r.err;
}

TEST_F(Cli, MigrateAppliesThenReportsUpToDate) {
  auto first = cli({"migrate"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(contains(first.out, "applied 0001_accounts.sql")) << first.out;
  auto second = cli({"migrate"});
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.out, "database is up to date\n");
}

TEST_F(Cli, EditedMigrationStopsStartUp) {
  ASSERT_EQ(cli({"migrate"}).exit_code, 0);
  {
    pqxx::connection c{db_.conninfo()};
    pqxx::work tx{c};
    tx.exec("UPDATE parley_schema_migrations SET checksum = 'feedface' WHERE version = 1");
    tx.commit();
  }
  auto r = cli({"user", "list", "example.org"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "0001_accounts.sql changed after it was applied")) << r.err;
}

TEST_F(Cli, CertDevWritesAChainThatOpenSslVerifies) {
  auto out = dir_ / "certs";
  auto r = parley({"cert", "dev", "--out", out, "--domain", "a.test", "--domain", "b.test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"ca.pem", "ca.key", "a.test.pem", "a.test.key", "b.test.pem", "b.test.key"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  }
  for (const char* d : {"a.test", "b.test"}) {
    auto v = run({"openssl", "verify", "-CAfile", out + "/ca.pem", "-purpose", "sslserver",
                  "-verify_hostname", d, out + "/" + d + ".pem"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_TRUE(contains(v.out, ": OK")) << v.out;
  }
  auto mismatch = run({"openssl", "verify", "-CAfile", out + "/ca.pem", "-verify_hostname",
                       "c.test", out + "/a.test.pem"});
  EXPECT_NE(mismatch.exit_code, 0);
}

TEST_F(Cli, CheckPassesOnAGoodSetupAndNamesEachProblem) {
  auto certs = dir_ / "certs";
  ASSERT_EQ(parley({"cert", "dev", "--out", certs, "--domain", "example.org", "--domain",
                    "example.net"}).exit_code, 0);
  write_config("certificate = \"certs/example.net.pem\"\nprivate_key = \"certs/example.net.key\"\n\n"
               "[tls]\ncertificate = \"certs/example.org.pem\"\nprivate_key = \"certs/example.org.key\"\n"
               "ca_file = \"certs/ca.pem\"\n");
  ASSERT_EQ(cli({"migrate"}).exit_code, 0);
  auto good = cli({"check"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_FALSE(contains(good.out, "PROBLEM")) << good.out;
  EXPECT_TRUE(contains(good.out, "database migrations current")) << good.out;

  // The example.org pair now also has to cover a host it does not name.
  write_config("\n[[host]]\ndomain = \"third.test\"\n\n[tls]\ncertificate = \"certs/example.org.pem\"\n"
               "private_key = \"certs/example.org.key\"\nca_file = \"certs/ca.pem\"\n");
  auto bad = cli({"check"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.out, "PROBLEM")) << bad.out;
  EXPECT_TRUE(contains(bad.out, "third.test")) << bad.out;
}

TEST_F(Cli, CheckReportsAnUnreachableDatabase) {
  write_file(config_, "[database]\nurl = \"host=/nonexistent-parley dbname=x\"\n");
  auto r = cli({"check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "PROBLEM  database")) << r.out;
}

TEST_F(Cli, ServeMigratesAndStopsCleanlyOnSigterm) {
  Background serve({PARLEY_BINARY, "serve", "--config", config_});
  ASSERT_TRUE(serve.wait_for_stderr("ready", 60)) << serve.stderr_text();
  EXPECT_TRUE(contains(serve.stderr_text(), "applied migration 0001_accounts.sql"));
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  EXPECT_TRUE(contains(serve.stderr_text(), "shutting down"));
  EXPECT_EQ(cli({"migrate"}).out, "database is up to date\n");
}

// A database that answers and refuses (here: no such database) is not waited for like an
// unreachable one: serve stops at once and says where to look.
TEST_F(Cli, ServeWithAWrongDatabaseNameFailsAtOnceNamingTheUrl) {
  write_file(config_, "[database]\nurl = \"" + db_.conninfo() + "_missing\"\n\n[[host]]\ndomain = \"example.org\"\n");
  Background serve({PARLEY_BINARY, "serve", "--config", config_});
  ASSERT_TRUE(serve.wait_for_stderr("check [database] url", 30)) << serve.stderr_text();
  EXPECT_EQ(serve.stop(SIGTERM), 1) << serve.stderr_text();
  EXPECT_TRUE(contains(serve.stderr_text(), "does not exist")) << serve.stderr_text();
  EXPECT_FALSE(contains(serve.stderr_text(), "retrying")) << serve.stderr_text();
}

TEST_F(Cli, AUrlLibpqCannotReadIsAConfigurationError) {
  write_file(config_, "[database]\nurl = \"host=/run/postgresql conect_timeout=3\"\n\n[[host]]\ndomain = \"example.org\"\n");
  auto r = cli({"user", "list", "example.org"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "[database] url")) << r.err;
  EXPECT_TRUE(contains(r.err, "conect_timeout")) << r.err;
}

// [database] query_timeout bounds requests, not migrations or account deletion
// (docs/configuration.md). With a 100 ms bound: `parley migrate` waits for another parley's
// migration (the advisory lock, held here) longer than that, and `parley user del` waits for
// a row lock longer than that; both succeed once the lock is released.
class CliQueryTimeout : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_file(config_, "[server]\ndata_dir = \"var\"\n\n[database]\nurl = \"" + db_.conninfo() +
                            "\"\nquery_timeout = 100\n\n[security]\nscram_iterations = 4096\n\n[[host]]\n"
                            "domain = \"example.org\"\n");
  }
  // Waits until a session of this database waits for a lock (an advisory or a row lock).
  bool someone_waits_for_a_lock() {
    pqxx::connection c{db_.conninfo()};
    for (int i = 0; i < 600; ++i) {
      pqxx::nontransaction tx{c};
      auto r = tx.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock'");
      if (r[0][0].as<int>() > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Longer than query_timeout, so that a bounded wait would have been cancelled.
  static void outlast_query_timeout() { std::this_thread::sleep_for(std::chrono::milliseconds(600)); }
};

TEST_F(CliQueryTimeout, MigrateWaitsForAnotherMigrationLongerThanTheQueryTimeout) {
  std::future<Ran> migrate;  // declared first: a failed assertion releases the lock before waiting for it
  pqxx::connection other{db_.conninfo()};
  {
    pqxx::nontransaction tx{other};
    tx.exec("SELECT pg_advisory_lock(123563833845113)");  // storage/migrator.cpp's key
  }
  migrate = std::async(std::launch::async, [this] { return cli({"migrate"}); });
  ASSERT_TRUE(someone_waits_for_a_lock());
  outlast_query_timeout();
  {
    pqxx::nontransaction tx{other};
    tx.exec("SELECT pg_advisory_unlock(123563833845113)");
  }
  auto r = migrate.get();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "applied 0001_accounts.sql")) << r.out;
}

TEST_F(CliQueryTimeout, UserDelWaitsLongerThanTheQueryTimeout) {
  ASSERT_EQ(cli({"user", "add", "alice@example.org"}, "pw\n").exit_code, 0);
  std::future<Ran> del;  // declared first: a failed assertion releases the lock before waiting for it
  pqxx::connection other{db_.conninfo()};
  auto holder = std::make_unique<pqxx::work>(other);
  holder->exec("SELECT 1 FROM accounts WHERE username = 'alice' FOR SHARE");
  del = std::async(std::launch::async, [this] { return cli({"user", "del", "alice@example.org", "--yes"}); });
  ASSERT_TRUE(someone_waits_for_a_lock());
  outlast_query_timeout();
  holder->commit();
  auto r = del.get();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cli({"user", "list", "example.org"}).out, "");
}

TEST_F(Cli, UsageErrorsExitWithStatus2) {
  EXPECT_EQ(parley({}).exit_code, 2);
  EXPECT_EQ(parley({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(parley({"serve", "--bogus"}).exit_code, 2);
  auto help = parley({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "user add JID"));
}

}  // namespace
}  // namespace parley::test
