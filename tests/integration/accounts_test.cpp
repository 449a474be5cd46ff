// Accounts, their SCRAM credentials and their sign-ins (AccountStore::record_signins and
// SigninLog's batches) in a real PostgreSQL.
#include "server/accounts.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "server/signin_log.hpp"
#include "storage/migrator.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace parley::server {
namespace {

using crypto::Hash;
using namespace std::chrono_literals;

Jid jid(const char* text) {
  auto j = Jid::parse(text);
  EXPECT_TRUE(j.has_value()) << text;
  return *j;
}

PreparedPassword password(const char* text) {
  auto p = PreparedPassword::from(text);
  EXPECT_TRUE(p.has_value());
  return std::move(*p);
}

class Accounts : public ::testing::Test {
 protected:
  void SetUp() override {
    pqxx::connection c{tdb_.conninfo()};
    storage::apply_migrations(c, storage::builtin_migrations());
  }
  int count(const std::string& sql) {
    pqxx::connection c{tdb_.conninfo()};
    pqxx::read_transaction tx{c};
    return tx.exec(sql)[0][0].as<int>();
  }
  // The keys a client would derive from `pw` with the salt and count the server announces.
  static ScramKeys client_side(const ScramLookup& l, Hash hash, const char* pw) {
    return derive_scram_credential(hash, pw, l.iterations, l.salt).keys;
  }

  test::TestDatabase tdb_;
  storage::Database db_{tdb_.conninfo(), 2};
  ServerSecret secret_ = ServerSecret::from_bytes(std::string(32, 'S'));
  CredentialVault vault_{secret_};
  AccountStore store_{db_, vault_, 4096};
};

TEST_F(Accounts, CreateListAndAuthenticate) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("pencil")).ok());
  ASSERT_TRUE(store_.create(jid("bob@example.org"), password("other")).ok());
  ASSERT_TRUE(store_.create(jid("carol@example.net"), password("x")).ok());
  auto list = store_.list("example.org");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"alice@example.org", "bob@example.org"}));
  for (Hash h : {Hash::sha1, Hash::sha256}) {
    auto l = store_.scram_lookup(jid("alice@example.org"), h);
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE(l->keys.has_value());
    EXPECT_EQ(l->iterations, 4096);
    EXPECT_GE(l->salt.size(), 16u);
    EXPECT_EQ(client_side(*l, h, "pencil").stored_key, l->keys->stored_key);
    EXPECT_NE(client_side(*l, h, "wrong").stored_key, l->keys->stored_key);
  }
}

TEST_F(Accounts, DuplicateIsAConflictAndMissingIsNotFound) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("a")).ok());
  auto again = store_.create(jid("alice@example.org"), password("b"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, storage::Error::Kind::conflict);
  EXPECT_EQ(store_.set_password(jid("nobody@example.org"), password("x")).error().kind,
            storage::Error::Kind::not_found);
  EXPECT_EQ(store_.remove(jid("nobody@example.org")).error().kind, storage::Error::Kind::not_found);
}

TEST_F(Accounts, PasswordChangeReplacesBothCredentials) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("old")).ok());
  ASSERT_TRUE(store_.set_password(jid("alice@example.org"), password("new")).ok());
  for (Hash h : {Hash::sha1, Hash::sha256}) {
    auto l = store_.scram_lookup(jid("alice@example.org"), h);
    ASSERT_TRUE(l.ok() && l->keys);
    EXPECT_EQ(client_side(*l, h, "new").stored_key, l->keys->stored_key);
    EXPECT_NE(client_side(*l, h, "old").stored_key, l->keys->stored_key);
  }
}

TEST_F(Accounts, UnknownAccountGetsAStableFakeSaltAndTheSameIterationCount) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("a")).ok());
  auto real = store_.scram_lookup(jid("alice@example.org"), Hash::sha256);
  auto fake = store_.scram_lookup(jid("mallory@example.org"), Hash::sha256);
  ASSERT_TRUE(real.ok() && fake.ok());
  EXPECT_FALSE(fake->keys.has_value());
  EXPECT_EQ(fake->iterations, real->iterations);
  EXPECT_EQ(fake->salt.size(), real->salt.size());
  EXPECT_EQ(fake->salt, store_.scram_lookup(jid("mallory@example.org"), Hash::sha256)->salt);
  EXPECT_NE(fake->salt, store_.scram_lookup(jid("eve@example.org"), Hash::sha256)->salt);
}

TEST_F(Accounts, DeleteCascadesToEverythingTheAccountOwns) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("a")).ok());
  ASSERT_TRUE(store_.create(jid("bob@example.org"), password("b")).ok());
  EXPECT_EQ(count("SELECT count(*) FROM scram_credentials"), 4);
  ASSERT_TRUE(store_.remove(jid("alice@example.org")).ok());
  EXPECT_FALSE(*store_.exists(jid("alice@example.org")));
  EXPECT_TRUE(*store_.exists(jid("bob@example.org")));
  EXPECT_EQ(count("SELECT count(*) FROM scram_credentials WHERE username = 'alice'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM scram_credentials"), 2);
  // Every foreign key onto accounts cascades (future tables included).
  EXPECT_EQ(count("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                  "AND confrelid = 'accounts'::regclass AND confdeltype <> 'c'"), 0);
}

TEST_F(Accounts, CredentialsCopiedOntoAnotherAccountDoNotOpen) {
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password("alice-pw")).ok());
  ASSERT_TRUE(store_.create(jid("mallory@example.org"), password("mallory-pw")).ok());
  {
    // An attacker with write access to the database copies their own credential onto alice.
    pqxx::connection c{tdb_.conninfo()};
    pqxx::work tx{c};
    tx.exec("UPDATE scram_credentials a SET salt = m.salt, iterations = m.iterations, "
            "sealed_keys = m.sealed_keys FROM scram_credentials m WHERE a.username = 'alice' "
            "AND m.username = 'mallory' AND a.mechanism = m.mechanism");
    tx.commit();
  }
  auto l = store_.scram_lookup(jid("alice@example.org"), Hash::sha256);
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->keys.has_value());
}

TEST_F(Accounts, ADumpRevealsNeitherThePasswordNorTheKeys) {
  const char* pw = "correct horse battery staple";
  ASSERT_TRUE(store_.create(jid("alice@example.org"), password(pw)).ok());
  auto bin = test::run({"sh", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"});
  std::string pg_dump = bin.out.substr(0, bin.out.find('\n')) + "/pg_dump";
  auto dump = test::run({pg_dump, "-h", tdb_.host(), "-U", "postgres", "--inserts", tdb_.name()});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  ASSERT_NE(dump.out.find("alice"), std::string::npos);  // the dump is of the right database
  EXPECT_EQ(dump.out.find(pw), std::string::npos);
  for (Hash h : {Hash::sha1, Hash::sha256}) {
    auto l = store_.scram_lookup(jid("alice@example.org"), h);
    ASSERT_TRUE(l.ok() && l->keys);
    for (const auto& key : {l->keys->stored_key, l->keys->server_key}) {
      EXPECT_EQ(dump.out.find(crypto::hex(key)), std::string::npos);
      EXPECT_EQ(dump.out.find(crypto::base64_encode(key)), std::string::npos);
      EXPECT_EQ(dump.out.find(key), std::string::npos);
    }
  }
}

TEST_F(Accounts, DatabaseDownIsUnavailableNotACrash) {
  storage::Database nowhere{"host=/nonexistent-parley-socket-dir user=postgres dbname=x", 1};
  AccountStore store{nowhere, vault_, 4096};
  auto r = store.scram_lookup(jid("alice@example.org"), Hash::sha256);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, storage::Error::Kind::unavailable);
}

class Signins : public Accounts {
 protected:
  void SetUp() override {
    Accounts::SetUp();
    for (const char* who : {"alice@example.org", "bob@example.org"}) {
      ASSERT_TRUE(store_.create(jid(who), password("pencil")).ok());
    }
  }
  int signins(const std::string& where) { return count("SELECT count(*) FROM signins WHERE " + where); }
  // The rows of an account, oldest first: "address|resource or NULL|success|at as epoch µs".
  std::vector<std::string> rows_of(const std::string& username) {
    pqxx::connection c{tdb_.conninfo()};
    pqxx::read_transaction tx{c};
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params("SELECT address, COALESCE(resource, 'NULL'), success,"
                                        " (extract(epoch FROM at) * 1000000)::bigint"
                                        " FROM signins WHERE username = $1 ORDER BY at",
                                        username)) {
      out.push_back(r[0].as<std::string>() + "|" + r[1].as<std::string>() + "|" + r[2].as<std::string>() + "|" +
                    r[3].as<std::string>());
    }
    return out;
  }
  static Signin row(const char* who, std::string resource, bool success, std::int64_t at_us) {
    return Signin{jid(who), "192.0.2.7", std::move(resource), success,
                  std::chrono::system_clock::time_point(std::chrono::microseconds(at_us))};
  }
};

TEST_F(Signins, ABatchKeepsEachRowsTimeAndTextAndLeavesOutUnknownAccounts) {
  const std::int64_t t0 = 1'790'000'000'123'456;  // exact to the microsecond
  std::vector<Signin> batch = {
      row("alice@example.org", "phone", true, t0),
      row("alice@example.org", "", false, t0 + 1),
      row("nobody@example.org", "x", true, t0 + 2),  // no such account: left out, not an error
      row("bob@example.org", "it's a \"quoted\" \\ résumé $1", true, t0 + 3),
  };
  ASSERT_TRUE(store_.record_signins(batch).ok());
  EXPECT_EQ(rows_of("alice"), (std::vector<std::string>{"192.0.2.7|phone|t|" + std::to_string(t0),
                                                          "192.0.2.7|NULL|f|" + std::to_string(t0 + 1)}));
  EXPECT_EQ(rows_of("bob"),
            (std::vector<std::string>{"192.0.2.7|it's a \"quoted\" \\ résumé $1|t|" + std::to_string(t0 + 3)}));
  EXPECT_EQ(signins("username = 'nobody'"), 0);
  EXPECT_TRUE(store_.record_signins({}).ok());
}

TEST_F(Signins, ABatchLargerThanOneStatementTakesIsWrittenWhole) {
  // 2500 rows: three statements of at most 1000 rows (6000 parameters) each.
  std::vector<Signin> batch;
  for (int i = 0; i < 2500; ++i) batch.push_back(row(i % 2 ? "alice@example.org" : "bob@example.org", "r", true, i));
  ASSERT_TRUE(store_.record_signins(batch).ok());
  EXPECT_EQ(signins("username = 'alice'"), 1250);
  EXPECT_EQ(signins("username = 'bob'"), 1250);
}

TEST_F(Signins, TheLogWritesItsRowsShortlyAfterAndWhatIsLeftAtStop) {
  boost::asio::io_context io;
  storage::Runner runner(db_, 1);
  SigninLog log(io.get_executor(), runner, store_);
  // With the network thread running, rows reach the table without anything else asked.
  std::thread net([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  for (int i = 0; i < 5; ++i) log.record(Signin{jid("alice@example.org"), "127.0.0.1", "phone", true});
  for (int i = 0; i < 50 && signins("username = 'alice'") < 5; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(signins("username = 'alice'"), 5);
  io.stop();
  net.join();
  // Recorded after the network threads stopped: only stop() can write these.
  for (int i = 0; i < 3; ++i) log.record(Signin{jid("bob@example.org"), "127.0.0.1", "", false});
  std::this_thread::sleep_for(3 * SigninLog::kFlushDelay);
  EXPECT_EQ(signins("username = 'bob'"), 0);
  log.stop();
  runner.stop();
  EXPECT_EQ(signins("username = 'bob' AND NOT success AND resource IS NULL"), 3);
}

}  // namespace
}  // namespace parley::server
