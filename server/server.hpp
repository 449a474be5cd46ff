#pragma once
// The running server: threads, TLS, the router with each host's modules, the listeners.
// Built by `parley serve` once the database is migrated; start() opens the listeners,
// stop() shuts down gracefully (every client gets <system-shutdown/>, bounded in time).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "server/account_events.hpp"
#include "server/accounts.hpp"
#include "server/c2s/c2s_session.hpp"
#include "server/config.hpp"
#include "server/federation_api.hpp"
#include "server/module_api.hpp"
#include "server/net/connection_limiter.hpp"
#include "server/net/io_pool.hpp"
#include "server/net/tls.hpp"
#include "server/router/router.hpp"
#include "server/server_secret.hpp"
#include "server/signin_log.hpp"
#include "storage/runner.hpp"

namespace parley::server {

class Server {
 public:
  /// Loads certificates and starts every host's modules. Throws on a bad certificate or an
  /// unknown module (naming it).
  Server(const Config& config, const ModuleRegistry& registry, storage::Database& db,
         AccountStore& accounts, const ServerSecret& secret);
  ~Server();

  /// Binds every listener and starts the threads. Throws if an address cannot be bound.
  void start();
  /// Graceful shutdown: stop accepting, close every session, wait up to `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  /// The addresses the listeners are bound to (port 0 in the config gives a free port).
  std::vector<std::pair<ListenType, boost::asio::ip::tcp::endpoint>> endpoints() const;

 private:
  struct Listener;
  boost::asio::awaitable<void> accept_loop(Listener& listener);
  boost::asio::awaitable<void> housekeeping();
  void accept(Listener& listener, boost::asio::ip::tcp::socket socket);

  const Config& config_;
  net::IoPool io_;
  storage::Runner runner_;
  net::TlsContexts tls_;
  router::SessionTable sessions_;
  router::Router router_;
  LoginThrottle throttle_;
  net::ConnectionLimiter limiter_;
  SigninLog signins_;
  c2s::Services c2s_;
  std::unique_ptr<FederationService> federation_;  // null when disabled
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool stopped_ = false;
  std::unique_ptr<boost::asio::steady_timer> housekeeping_;
  AccountEvents account_events_;  // user/created, user/deleted
};

}  // namespace parley::server
