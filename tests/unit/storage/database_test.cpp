// The pool's behaviour when the database cannot be reached (storage/database.hpp), without a
// server: a unix socket directory where no PostgreSQL listens refuses at once.
#include "storage/database.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace parley::storage {
namespace {

using namespace std::chrono_literals;

const char* kNowhere = "host=/nonexistent-parley-socket-dir dbname=nothing user=nobody";

PoolOptions quick() {
  PoolOptions o;
  o.size = 2;
  o.acquire_timeout = 1000ms;
  o.reconnect_delay_max = 60000ms;
  return o;
}

TEST(DatabaseFaults, UnreachableDatabaseIsUnavailableAndTheOperatorIsToldOnce) {
  Database db(kNowhere, quick());
  std::vector<std::pair<bool, std::string>> told;
  db.on_status_change([&](bool up, const std::string& m) { told.emplace_back(up, m); });
  auto first = db.run([](pqxx::connection&) { return 1; });
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, Error::Kind::unavailable) << first.error().message;
  // Within the backoff (100 ms after the first failure) no new attempt is made: the call fails
  // at once and says when the next one is.
  auto second = db.run([](pqxx::connection&) { return 1; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, Error::Kind::unavailable);
  EXPECT_NE(second.error().message.find("next attempt in"), std::string::npos) << second.error().message;
  ASSERT_EQ(told.size(), 1u);
  EXPECT_FALSE(told[0].first);
  EXPECT_NE(told[0].second.find("database unreachable"), std::string::npos);
}

TEST(DatabaseFaults, AJobPastItsDeadlineFailsWithoutTouchingTheDatabase) {
  Database db(kNowhere, quick());
  bool ran = false;
  DeadlineScope late(std::chrono::steady_clock::now() - 1ms);
  auto r = db.run([&](pqxx::connection&) { ran = true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::unavailable);
  EXPECT_NE(r.error().message.find("acquire_timeout"), std::string::npos) << r.error().message;
  EXPECT_FALSE(ran);
}

TEST(DatabaseFaults, ServerShutdownAndTimeoutsAreUnavailableOthersAreNot) {
  EXPECT_EQ(translate_exception(pqxx::broken_connection("gone")).kind, Error::Kind::unavailable);
  EXPECT_EQ(translate_exception(pqxx::sql_error("terminating connection", "", "57P01")).kind, Error::Kind::unavailable);
  EXPECT_EQ(translate_exception(pqxx::sql_error("canceling statement", "", "57014")).kind, Error::Kind::unavailable);
  EXPECT_EQ(translate_exception(pqxx::sql_error("syntax", "", "42601")).kind, Error::Kind::internal);
  EXPECT_TRUE(connection_lost(pqxx::sql_error("terminating connection", "", "57P01")));
  EXPECT_FALSE(connection_lost(pqxx::sql_error("canceling statement", "", "57014")));
  EXPECT_FALSE(connection_lost(pqxx::sql_error("syntax", "", "42601")));
}

// serve's start-up wait says "retrying in N ms" with N = next_attempt_in() at least: after
// that long the pool really tries (its error is the connect's, not "next attempt in").
TEST(DatabaseFaults, NextAttemptInIsWhenThePoolTriesAgain) {
  Database db(kNowhere, quick());
  EXPECT_EQ(db.next_attempt_in().count(), 0) << "not known to be down before any attempt";
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = db.run([](pqxx::connection&) { return 1; });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.find("next attempt in"), std::string::npos) << "attempt " << attempt << ": " << r.error().message;
    auto wait = db.next_attempt_in();
    EXPECT_LE(wait.count(), 125 << attempt) << "100 ms doubling, with at most 25 % jitter";
    std::this_thread::sleep_for(wait);
  }
}

// What libpq makes of `conninfo`: keyword -> value, for the keywords set.
std::map<std::string, std::string> parsed(const std::string& conninfo) {
  std::map<std::string, std::string> out;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) {
    ADD_FAILURE() << conninfo << ": " << error;
    PQfreemem(error);
  }
  if (options == nullptr) return out;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return out;
}

// docs/configuration.md: a connect_timeout, tcp_user_timeout or keepalives* in [database] url
// wins over the pool's own, however the URL spells it.
TEST(DatabaseFaults, TheOperatorsConnectionParametersWinInEitherForm) {
  PoolOptions o = quick();
  o.connect_timeout = 5s;
  for (const std::string url : {"host=/run/postgresql dbname=parley connect_timeout = 17 keepalives_idle= 3",
                                "host=/run/postgresql dbname=parley connect_timeout='17' keepalives_idle =3",
                                "postgresql://parley@/parley?host=/run/postgresql&connect_timeout=17&keepalives_idle=3"}) {
    Database db(url, o);
    auto p = parsed(db.connect_conninfo());
    EXPECT_EQ(p["connect_timeout"], "17") << db.connect_conninfo();
    EXPECT_EQ(p["keepalives_idle"], "3") << db.connect_conninfo();
    // What the operator left out, the pool adds.
    EXPECT_EQ(p["tcp_user_timeout"], std::to_string(o.query_timeout.count())) << db.connect_conninfo();
    EXPECT_EQ(p["dbname"], "parley");
  }
  for (const std::string url : {"host=/run/postgresql dbname=parley", "postgresql://parley@/parley?host=/run/postgresql"}) {
    Database db(url, o);
    auto p = parsed(db.connect_conninfo());
    EXPECT_EQ(p["connect_timeout"], "5") << db.connect_conninfo();
    EXPECT_EQ(p["keepalives_count"], "3") << db.connect_conninfo();
    EXPECT_EQ(p["dbname"], "parley");
  }
}

TEST(DatabaseFaults, AConninfoLibpqCannotReadIsNamed) {
  EXPECT_FALSE(conninfo_problem("host=/run/postgresql dbname=parley"));
  EXPECT_FALSE(conninfo_problem("postgresql://parley@db.example:5433/parley?sslmode=require"));
  auto typo = conninfo_problem("host=/run/postgresql conect_timeout=3");
  ASSERT_TRUE(typo);
  EXPECT_NE(typo->find("conect_timeout"), std::string::npos) << *typo;
  EXPECT_TRUE(conninfo_problem("host=/run/postgresql dbname"));
}

// A connect the server refused for good is told apart from one that could not reach it.
TEST(DatabaseFaults, ARefusedLoginIsNotAnUnreachableDatabase) {
  EXPECT_TRUE(connect_rejected(pqxx::broken_connection(
      "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL:  database \"nope\" does not exist\n")));
  EXPECT_TRUE(connect_rejected(pqxx::broken_connection("FATAL:  password authentication failed for user \"parley\"")));
  EXPECT_TRUE(connect_rejected(pqxx::broken_connection("FATAL:  role \"parley\" does not exist")));
  EXPECT_TRUE(connect_rejected(pqxx::broken_connection("fe_sendauth: no password supplied")));
  EXPECT_FALSE(connect_rejected(pqxx::broken_connection(
      "connection to server on socket \"/nowhere/.s.PGSQL.5432\" failed: No such file or directory")));
  EXPECT_FALSE(connect_rejected(pqxx::broken_connection("FATAL:  the database system is starting up")));
  EXPECT_FALSE(connect_rejected(pqxx::sql_error("relation \"x\" does not exist", "", "42P01")));
}

}  // namespace
}  // namespace parley::storage
