// The pool's behaviour when the database cannot be reached (storage/database.hpp), without a
// server: a unix socket directory where no PostgreSQL listens refuses at once.
#include "storage/database.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
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

}  // namespace
}  // namespace parley::storage
