#pragma once
// Finds where to connect for a remote XMPP domain: static routes first, then DNS SRV
// (_xmpps-server and _xmpp-server, XEP-0368 and RFC 6120 §3.2; the ordering rules are in
// srv_order.hpp), then the A/AAAA fallback on port 5269, and finally the addresses of
// every target, so that an outbound link only has to connect, in order.
//
// DNS goes through c-ares, asynchronously, on the resolver's executor: its sockets are
// watched with posix::stream_descriptor and its timeouts with a steady_timer, so nothing
// blocks a network thread and no extra thread exists. Every lookup is bounded twice:
// c-ares gives up after `query_timeout` x `tries` per server, and resolve() returns after
// `deadline` whatever is still outstanding.
//
// Thread-safety: one SrvResolver per io_context thread (like the sessions, which are
// pinned to one). resolve() must be awaited from a coroutine running on the resolver's
// executor, and that executor must not run handlers concurrently (an io_context run by
// one thread, or a strand). Destroy the resolver before its io_context; a resolve() still
// waiting then completes with ResolveError::failure.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "federation/srv_order.hpp"

namespace parley::federation {

struct ResolverOptions {
  /// [federation] routes: remote domain -> "host:port", checked before DNS. Keys are
  /// compared in A-label form; a target host that is a name is resolved like an SRV target.
  std::map<std::string, std::string> routes;
  /// "ip:port,ip:port" (c-ares's CSV syntax, "[v6]:port" for IPv6); empty: the system's
  /// /etc/resolv.conf.
  std::string servers;
  /// One try of one query against one server; c-ares doubles it on each further round.
  std::chrono::milliseconds query_timeout{1500};
  int tries = 2;
  /// The most one resolve() takes, all lookups included.
  std::chrono::milliseconds deadline{10000};
  /// Seed of the weighted SRV order; 0: a random seed.
  std::uint64_t seed = 0;
};

/// One place to connect to, with its addresses in the order to try (RFC 6724 order as
/// c-ares sorts them).
struct ResolvedCandidate {
  std::string host;
  std::uint16_t port = kXmppServerPort;
  bool direct_tls = false;  ///< connect with TLS at once (XEP-0368), else STARTTLS
  std::vector<boost::asio::ip::address> addresses;
};

struct ResolveResult {
  enum class Source { none, route, srv, fallback, ip_literal };

  ResolveError error = ResolveError::none;
  /// One line for logs and stream errors: what was looked up and what it gave, e.g.
  /// "_xmpp-server._tcp.example.com timed out" or "2 SRV targets for example.com".
  std::string reason;
  Source source = Source::none;
  /// Non-empty exactly when ok(): targets without any address are left out.
  std::vector<ResolvedCandidate> candidates;

  bool ok() const { return error == ResolveError::none; }
};

class SrvResolver {
 public:
  /// Reads the system's DNS configuration unless options.servers is given. Throws
  /// std::runtime_error when c-ares cannot be set up (e.g. a malformed `servers`).
  SrvResolver(boost::asio::any_io_executor executor, ResolverOptions options);
  ~SrvResolver();
  SrvResolver(const SrvResolver&) = delete;
  SrvResolver& operator=(const SrvResolver&) = delete;

  /// Where to connect for `domain` (U-labels or A-labels; an IP literal is connected to
  /// directly on port 5269). Never throws but std::bad_alloc: failures are in the result.
  boost::asio::awaitable<ResolveResult> resolve(std::string domain);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::federation
