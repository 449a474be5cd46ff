#pragma once
// A pool of PostgreSQL connections (libpqxx) with named prepared statements.
//
// Thread-safe. Calls block the calling thread while they wait for a connection and run their
// query, so on the server they run only on the storage pool's threads, never on a network
// thread (DESIGN.md). Every wait is bounded (PoolOptions), so that a database that is stopped,
// restarting or unreachable costs a caller an `unavailable` error, never a hang:
// - a free connection is waited for until a deadline (acquire_timeout after the request was
//   queued, see Runner), then the call fails;
// - connecting is bounded by libpq's connect_timeout, a query by statement_timeout and, on
//   TCP, by keepalives and tcp_user_timeout (a caller that must not be cut short, a
//   migration or an account deletion, sets SET LOCAL statement_timeout = 0 in its transaction);
// - an idle connection the server has closed (it was stopped or restarted) is noticed when
//   it is leased and replaced; one that broke during a query is dropped then;
// - after a failed connect the pool stays "down" for a backoff (100 ms, doubling up to
//   reconnect_delay_max, with jitter): calls meanwhile fail at once instead of all hammering
//   the server, and afterwards a single call probes; when it connects, the pool is up again.
// So the pool reconnects by itself once the database is back.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "storage/result.hpp"

namespace parley::storage {

/// Maps a libpqxx (or other) exception to the storage error type.
Error translate_exception(const std::exception& e);

/// True when `e` means the connection it came from is gone (broken, in doubt, or the server
/// shutting down): such a connection is not given back to the pool.
bool connection_lost(const std::exception& e);

/// True when `e` is a connect that the database server answered and refused for good: the
/// role or database does not exist, authentication failed, no pg_hba.conf entry. Waiting does
/// not help; the configuration must change. (libpq gives no SQLSTATE for a failed connect,
/// so this reads the server's message, which is in English unless its lc_messages says otherwise.)
bool connect_rejected(const std::exception& e);

/// Why libpq cannot parse `conninfo` (a URI or key=value string), or nullopt when it can.
std::optional<std::string> conninfo_problem(const std::string& conninfo);

/// The pauses of a loop that waits for the database (start-up, the account-events listener):
/// 1 s, doubling up to 30 s. Not thread-safe.
class RetryPause {
 public:
  /// The pause to make now; the next one is twice as long, up to 30 s.
  std::chrono::milliseconds next() {
    auto now = pause_;
    pause_ = std::min<std::chrono::milliseconds>(pause_ * 2, std::chrono::seconds(30));
    return now;
  }
  /// Back to 1 s (the database answered).
  void reset() { pause_ = std::chrono::seconds(1); }

 private:
  std::chrono::milliseconds pause_{1000};
};

/// Thrown inside the pool when no connection can be had in time or the database is known to
/// be down; translated to Error::Kind::unavailable.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The bounds of the pool ([database] in the configuration, docs/configuration.md).
struct PoolOptions {
  int size = 8;
  /// Longest a call waits for a connection, counted from when it was queued (Runner).
  std::chrono::milliseconds acquire_timeout{5000};
  /// statement_timeout of every connection; on TCP also how soon a silent server is given up.
  std::chrono::milliseconds query_timeout{10000};
  /// libpq connect_timeout (libpq waits at least 2 s).
  std::chrono::seconds connect_timeout{5};
  /// After failed connects the next attempt waits 100 ms, doubling up to this.
  std::chrono::milliseconds reconnect_delay_max{5000};
};

using Deadline = std::chrono::steady_clock::time_point;

/// Within its scope, pool calls on this thread that name no deadline use `deadline` (the
/// Runner sets it for each job to "queued at + acquire_timeout").
class DeadlineScope {
 public:
  explicit DeadlineScope(Deadline deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  std::optional<Deadline> previous_;
};

class Database {
 public:
  /// `conninfo`: a libpq URI or key=value string. Nothing connects until first use.
  Database(std::string conninfo, int pool_size);
  Database(std::string conninfo, PoolOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Registers a named statement; every connection prepares it before its next use.
  /// Call at start-up (module start); names are global to the pool.
  void prepare(std::string name, std::string sql);

  /// Called (from a storage thread) when the database becomes unreachable and when it is
  /// reachable again, with a line for the log. Set before the pool is used.
  void on_status_change(std::function<void(bool reachable, const std::string& message)> listener);

  /// A connection borrowed from the pool; returned when the lease is destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : db_(std::exchange(other.db_, nullptr)), slot_(other.slot_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_(); }
    pqxx::connection* operator->() { return conn_(); }
    /// Closes the connection instead of returning it to the pool (it broke).
    void discard();

   private:
    friend class Database;
    Lease(Database* db, std::size_t slot) : db_(db), slot_(slot) {}
    pqxx::connection* conn_();
    Database* db_;
    std::size_t slot_;
  };

  /// Waits (until the thread's DeadlineScope, else acquire_timeout from now) for a free
  /// connection and opens it if needed. Throws Unavailable or pqxx::broken_connection when
  /// the database cannot be reached.
  Lease acquire();

  /// Runs `f(pqxx::connection&)` on a pooled connection and turns exceptions into an Error:
  /// `run` returns Result<R> where R is what f returns.
  template <typename F>
  auto run(F&& f) -> Result<decltype(f(std::declval<pqxx::connection&>()))> {
    using R = decltype(f(std::declval<pqxx::connection&>()));
    try {
      auto lease = acquire();
      try {
        if constexpr (std::is_void_v<R>) {
          f(*lease);
          return {};
        } else {
          return f(*lease);
        }
      } catch (const std::exception& e) {
        if (connection_lost(e) || !lease->is_open()) lease.discard();
        throw;
      }
    } catch (const std::exception& e) {
      return translate_exception(e);
    }
  }

  /// The deadline of a call queued now.
  Deadline deadline_from_now() const { return std::chrono::steady_clock::now() + options_.acquire_timeout; }

  const std::string& conninfo() const { return conninfo_; }
  /// conninfo() with the pool's bounds added (connect_timeout, keepalives, tcp_user_timeout)
  /// where the operator set none: for a connection of one's own (a LISTEN) that must give up
  /// on a vanished server as the pool's do.
  const std::string& connect_conninfo() const { return connect_conninfo_; }
  const PoolOptions& options() const { return options_; }
  /// While the database is known to be down: how long until the pool tries to connect again
  /// (calls before then fail at once without trying); otherwise zero.
  std::chrono::milliseconds next_attempt_in();

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> conn;
    std::size_t prepared = 0;  // how many of statements_ this connection has prepared
    bool busy = false;
  };
  void give_back(std::size_t slot);
  void open(Slot& slot);

  std::string conninfo_;
  std::string connect_conninfo_;  // conninfo_ with the pool's timeouts added
  PoolOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Slot> slots_;
  std::vector<std::pair<std::string, std::string>> statements_;
  std::function<void(bool, const std::string&)> listener_;
  // Reconnection state, under mutex_.
  bool down_ = false;
  bool probing_ = false;
  std::chrono::milliseconds backoff_{0};
  Deadline retry_at_{};
  std::string last_error_;
};

}  // namespace parley::storage
