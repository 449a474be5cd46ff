// The storage pool (storage/database.hpp) against a real PostgreSQL: the bounds it puts on
// every connection, a connection the server closed replaced without an error, and a pool
// with no free connection answering "unavailable" instead of waiting for ever.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "storage/database.hpp"
#include "tests/support/test_database.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using storage::Database;
using storage::Error;
using storage::PoolOptions;

PoolOptions options(int size) {
  PoolOptions o;
  o.size = size;
  o.acquire_timeout = 500ms;
  o.query_timeout = 1234ms;
  return o;
}

TEST(Pool, EveryConnectionCarriesTheQueryTimeout) {
  TestDatabase tdb;
  Database db(tdb.conninfo(), options(2));
  auto shown = db.run([](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    return tx.exec("SHOW statement_timeout")[0][0].as<std::string>();
  });
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ(*shown, "1234ms");
  // A statement that runs longer is cancelled, and reported as unavailable (retry later).
  auto slow = db.run([](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    tx.exec("SELECT pg_sleep(5)");
  });
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().kind, Error::Kind::unavailable) << slow.error().message;
}

TEST(Pool, AnIdleConnectionTheServerClosedIsReplacedWithoutAnError) {
  TestDatabase tdb;
  Database db(tdb.conninfo(), options(1));
  auto pid_of = [](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  };
  auto first = db.run(pid_of);
  ASSERT_TRUE(first.ok()) << first.error().message;
  {
    // What a restart does to every connection: the server ends it.
    pqxx::connection admin{tdb.conninfo()};
    pqxx::nontransaction tx{admin};
    tx.exec("SELECT pg_terminate_backend(" + std::to_string(*first) + ")");
    // Wait until the backend is gone (the pool's next lease must see the closed socket).
    for (int i = 0; i < 200; ++i) {
      auto left = tx.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(*first));
      if (left[0][0].as<int>() == 0) break;
      std::this_thread::sleep_for(10ms);
    }
  }
  auto second = db.run(pid_of);
  ASSERT_TRUE(second.ok()) << "the first query after the server closed the connection failed: "
                           << second.error().message;
  EXPECT_NE(*second, *first);
}

TEST(Pool, NoFreeConnectionMeansUnavailableNotAHang) {
  TestDatabase tdb;
  Database db(tdb.conninfo(), options(1));
  auto held = db.acquire();  // the only connection, busy
  auto other = std::async(std::launch::async, [&db] { return db.run([](pqxx::connection&) { return 1; }); });
  ASSERT_EQ(other.wait_for(30s), std::future_status::ready) << "a call waited far beyond acquire_timeout";
  auto r = other.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::unavailable);
  EXPECT_NE(r.error().message.find("acquire_timeout"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace parley::test
