#pragma once
// The federation service: takes the router's route/remote event and the s2s listeners'
// connections. One outbound link per (local domain, remote domain), made on first use and
// closed when idle; inbound streams authenticate the peer by its certificate (SASL
// EXTERNAL, XEP-0178) and hand its stanzas to the router.
//
// Thread-safe: route/remote handlers run on any network thread; links and streams live
// on one io_context each and reach the service through its mutex-guarded tables.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "federation/dialback_key.hpp"
#include "server/federation_api.hpp"
#include "server/module_api.hpp"
#include "server/net/tls.hpp"
#include "server/router/router.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::federation {

class OutboundLink;
class S2sConnection;
class InboundStream;

class Federation final : public server::FederationService {
 public:
  explicit Federation(server::FederationContext& context);
  ~Federation() override;

  void accept(boost::asio::ip::tcp::socket socket, bool direct_tls,
              server::net::ConnectionLimiter::Ticket admission) override;
  void stop() override;
  std::size_t active() const override;

  const server::FederationSection& settings() const { return context_.config.federation; }
  const server::Config& config() const { return context_.config; }
  server::router::Router& router() { return context_.router; }
  server::net::TlsContexts& tls() { return context_.tls; }
  bool is_local(std::string_view domain) { return context_.router.find_host(domain) != nullptr; }
  const DialbackKeys& dialback_keys() const { return dialback_keys_; }
  bool stopping() const;
  /// The parser bounds for peer streams: [limits] max_stanza_bytes, max_depth and
  /// max_attributes, as for clients.
  server::xml::StreamLimits stream_limits() const;

  /// Sends a stanza from a local account or host to another domain through the link for
  /// that pair, starting one if needed. Bounces it when federation with the domain is not
  /// permitted or the server is stopping. Any thread.
  void send_remote(server::Stanza stanza);

  /// XEP-0288: makes an authenticated inbound connection (whose peer asked for a
  /// bidirectional stream) the link for stanzas from `local` to `remote`, unless a link for
  /// that pair exists already. Takes `conn` only when it returns true.
  bool adopt(std::unique_ptr<S2sConnection>& conn, const std::string& local, const std::string& remote);

  /// Called by a link that will take no more stanzas: the next one starts a new link.
  void retire(const OutboundLink* link);
  /// Called by an inbound stream when it ends.
  void forget(const InboundStream* stream);

 private:
  boost::asio::awaitable<server::Verdict> on_route_remote(server::Event& event);

  server::FederationContext context_;
  DialbackKeys dialback_keys_;
  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<OutboundLink>> links_;
  std::map<const InboundStream*, std::weak_ptr<InboundStream>> inbound_;
};

/// The FederationFactory for the module registry.
std::unique_ptr<server::FederationService> make_federation(server::FederationContext& context);

}  // namespace parley::federation
