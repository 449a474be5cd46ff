#pragma once
// The asynchronous face of the database: blocking libpqxx work runs on a dedicated thread
// pool and the calling coroutine resumes on its own executor, so a network thread never
// waits for PostgreSQL (DESIGN.md: no blocking call on a network thread).
//
//   auto rows = co_await runner.run([&](pqxx::connection& c) { ... return value; });
//
// Thread-safe. The pool has as many threads as the database pool has connections, so no
// thread waits for a connection while another sits idle. Each job carries the deadline of
// the moment it was queued (PoolOptions::acquire_timeout): a job that waited that long for a
// thread or a connection fails with Error::Kind::unavailable instead of adding to a backlog
// while the database is away.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "storage/database.hpp"

namespace parley::storage {

class Runner {
 public:
  Runner(Database& db, std::size_t threads) : db_(db), pool_(threads < 1 ? 1 : threads) {}
  ~Runner() { stop(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Runs `f(pqxx::connection&)` on the pool; exceptions become an Error.
  ///
  /// GCC 12 relocates temporaries of a co_await expression bitwise, which breaks a lambda
  /// with owning captures written inline. Name the callable first:
  ///   auto query = [..] (pqxx::connection& c) { ... };
  ///   auto result = co_await runner.run(std::move(query));
  template <typename F>
  auto run(F f) -> boost::asio::awaitable<Result<decltype(f(std::declval<pqxx::connection&>()))>> {
    auto job = [this, f = std::move(f), deadline = db_.deadline_from_now()]() mutable {
      DeadlineScope scope(deadline);
      return db_.run(f);
    };
    return boost::asio::co_spawn(pool_, invoke(std::move(job)), boost::asio::use_awaitable);
  }

  /// Runs any blocking `f()` on the pool (e.g. a store method that talks to the database)
  /// and returns its result on the caller's executor. `f` must not throw, and its result
  /// must be default-constructible (co_spawn's requirement; storage::Result is). Name the
  /// callable before the co_await, as for run().
  template <typename F>
  auto execute(F f) -> boost::asio::awaitable<decltype(f())> {
    auto job = [f = std::move(f), deadline = db_.deadline_from_now()]() mutable {
      DeadlineScope scope(deadline);
      return f();
    };
    return boost::asio::co_spawn(pool_, invoke(std::move(job)), boost::asio::use_awaitable);
  }

  /// Finishes queued work and joins the threads. Idempotent.
  void stop() {
    pool_.join();
  }

  Database& database() { return db_; }

 private:
  // A coroutine function, not a lambda handed to co_spawn: GCC 12 mis-copies the latter.
  template <typename F>
  static boost::asio::awaitable<decltype(std::declval<F&>()())> invoke(F f) {
    co_return f();
  }

  Database& db_;
  boost::asio::thread_pool pool_;
};

}  // namespace parley::storage
