// Accounts and their SCRAM credentials in a real PostgreSQL.
#include "server/accounts.hpp"

#include <gtest/gtest.h>

#include "storage/migrator.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace parley::server {
namespace {

using crypto::Hash;

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

}  // namespace
}  // namespace parley::server
