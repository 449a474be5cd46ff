#pragma once
// How the core reaches server-to-server federation (federation/) without including it:
// register_builtin_modules() (modules/registry.cpp) puts a factory into the ModuleRegistry,
// and the Server builds the service from it when [federation] enabled is true. The service
// hooks the router's route/remote event itself and takes the sockets of the s2s and s2s-tls
// listeners.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>

#include "server/config.hpp"
#include "server/module_api.hpp"
#include "server/net/connection_limiter.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::server {

class ServerSecret;
namespace router {
class Router;
}
namespace net {
class IoPool;
class TlsContexts;
}  // namespace net

/// What the federation service is given; everything outlives it.
struct FederationContext {
  const Config& config;
  router::Router& router;
  net::TlsContexts& tls;
  net::IoPool& io;
  const ServerSecret& secret;  ///< dialback keys are derived from it
  xml::StreamLimits parser_limits;  ///< [limits] for peer streams, the same as for clients
};

/// The running federation. Thread-safe.
class FederationService {
 public:
  virtual ~FederationService() = default;
  /// Takes a connection accepted on an s2s (STARTTLS) or s2s-tls (direct TLS) listener,
  /// with its place under [limits] max_connections (held as long as the stream lives).
  virtual void accept(boost::asio::ip::tcp::socket socket, bool direct_tls,
                      net::ConnectionLimiter::Ticket admission) = 0;
  /// Graceful shutdown: every link and stream gets <system-shutdown/> and is closed; new
  /// stanzas for remote domains bounce. Returns at once.
  virtual void stop() = 0;
  /// Links and streams still open (for the shutdown wait).
  virtual std::size_t active() const = 0;
};

}  // namespace parley::server
