#pragma once
// Fires user/created and user/deleted (module_api.hpp) for every account created or deleted
// while the server runs:
//   - in this process (XEP-0077 registration and removal, through AccountStore): at once,
//     on the thread that changed the account, before AccountStore::create/remove returns,
//     so a client answered "done" can rely on every module having forgotten the account;
//   - in another process (`parley user add|del`, which use AccountStore too): AccountStore
//     announces each change with PostgreSQL NOTIFY in the committing transaction; a thread
//     here LISTENs on a connection of its own and fires the event when the notice arrives
//     (within milliseconds). Notices this process sent are ignored (AccountStore::origin).
//     Changes made while the server is down, or while the listening connection is being
//     re-established, are not replayed: caches start empty at start-up, and modules must
//     not treat the events as the only way to learn of an account.
//     The listening connection is bounded like the pool's (Database::connect_conninfo:
//     connect_timeout, keepalives, tcp_user_timeout) and is checked with a query when it has
//     been quiet for a while, so a database that vanished without closing the connection is
//     noticed, and stop() never waits longer than a connect or that check may take.
// Deleted accounts' sessions end (XEP-0077 §3.2): Sessions::end_deleted_account, called by
// the register module for an in-band removal (after its result) and here for other processes'.
//
// Thread-safe. stop() waits for handlers that are running and fires none afterwards.

#include <atomic>
#include <chrono>
#include <future>
#include <shared_mutex>
#include <string>
#include <thread>

#include "server/accounts.hpp"
#include "server/router/router.hpp"

namespace parley::server {

class AccountEvents {
 public:
  /// Listens with a connection of its own to `db`'s server.
  AccountEvents(router::Router& router, AccountStore& accounts, const storage::Database& db);
  ~AccountEvents();
  AccountEvents(const AccountEvents&) = delete;
  AccountEvents& operator=(const AccountEvents&) = delete;

  /// Hooks the account store and starts listening.
  void start();
  /// Stops firing events (waiting for running handlers), stops listening. Idempotent.
  void stop();

  /// Parses a notice's payload ("created|deleted <bare JID> <origin>"); false if malformed.
  static bool parse(std::string_view payload, AccountStore::Change& change, std::string& jid,
                    std::string& origin);

 private:
  void fire(const Jid& account, AccountStore::Change change);
  void on_notice(std::string_view payload);
  void listen_loop();
  void first_attempt_done();  // on the listening thread

  router::Router& router_;
  AccountStore& accounts_;
  std::string conninfo_;
  std::chrono::milliseconds query_timeout_;
  std::shared_mutex firing_;  // shared while a handler runs; exclusive to stop
  bool enabled_ = false;      // guarded by firing_
  std::atomic<bool> stopping_{false};
  int wake_[2] = {-1, -1};    // a pipe that wakes the listening thread to stop
  std::promise<void> listening_;
  bool told_ = false;  // listening_ is set; the listening thread's own
  std::thread thread_;
};

}  // namespace parley::server
