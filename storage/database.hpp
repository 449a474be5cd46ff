#pragma once
// A pool of PostgreSQL connections (libpqxx) with named prepared statements.
//
// Thread-safe. Calls block the calling thread while they wait for a connection and run their
// query, so on the server they run only on the storage pool's threads, never on a network
// thread (DESIGN.md). Connections open lazily, and one found broken is replaced on the next
// lease, so the pool reconnects by itself after the database comes back.

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "storage/result.hpp"

namespace parley::storage {

/// Maps a libpqxx (or other) exception to the storage error type.
Error translate_exception(const std::exception& e);

class Database {
 public:
  /// `conninfo`: a libpq URI or key=value string. Nothing connects until first use.
  Database(std::string conninfo, int pool_size);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Registers a named statement; every connection prepares it before its next use.
  /// Call at start-up (module start); names are global to the pool.
  void prepare(std::string name, std::string sql);

  /// A connection borrowed from the pool; returned when the lease is destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : db_(std::exchange(other.db_, nullptr)), slot_(other.slot_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_(); }
    pqxx::connection* operator->() { return conn_(); }

   private:
    friend class Database;
    Lease(Database* db, std::size_t slot) : db_(db), slot_(slot) {}
    pqxx::connection* conn_();
    Database* db_;
    std::size_t slot_;
  };

  /// Waits for a free connection and opens it if needed. Throws pqxx::broken_connection
  /// when the database cannot be reached.
  Lease acquire();

  /// Runs `f(pqxx::connection&)` on a pooled connection and turns exceptions into an Error:
  /// `run` returns Result<R> where R is what f returns.
  template <typename F>
  auto run(F&& f) -> Result<decltype(f(std::declval<pqxx::connection&>()))> {
    using R = decltype(f(std::declval<pqxx::connection&>()));
    try {
      auto lease = acquire();
      if constexpr (std::is_void_v<R>) {
        f(*lease);
        return {};
      } else {
        return f(*lease);
      }
    } catch (const std::exception& e) {
      return translate_exception(e);
    }
  }

  const std::string& conninfo() const { return conninfo_; }

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> conn;
    std::size_t prepared = 0;  // how many of statements_ this connection has prepared
    bool busy = false;
  };
  void give_back(std::size_t slot);

  std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Slot> slots_;
  std::vector<std::pair<std::string, std::string>> statements_;
};

}  // namespace parley::storage
