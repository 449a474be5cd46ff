#pragma once
// TLS for parley's listeners, after the security policy (DESIGN.md): TLS 1.2 and 1.3 only,
// ECDHE key exchange only, AEAD ciphers only, no compression, no renegotiation. Each host
// may have its own certificate, chosen by SNI; the [tls] pair serves every other name.
// Resumption: session tickets under keys that live only in memory and rotate
// (ticket_keys.hpp), and a bounded session-ID cache whose expired entries a timer purges.
// ALPN: xmpp-client or xmpp-server (XEP-0368), whichever the peer offers.
//
// Built at start-up, then only read: safe to share between threads.

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "server/config.hpp"
#include "server/net/ticket_keys.hpp"

namespace parley::server::net {

class TlsContexts {
 public:
  /// Loads every certificate and key the configuration names. Throws std::runtime_error
  /// naming the file and OpenSSL's reason.
  explicit TlsContexts(const Config& config);

  /// False when the configuration names no certificate at all.
  bool has_certificate() const { return default_ != nullptr; }

  /// The context a listener hands to new connections. With `alpn` (direct TLS, XEP-0368)
  /// it negotiates ALPN "xmpp-client" when the client offers it.
  boost::asio::ssl::context& server(bool alpn);

  /// The context for outbound server-to-server links of the host `local_domain`: the
  /// host's own pair (else the [tls] pair) as client certificate, the same policy, and the
  /// trust anchors of [tls] ca_file or the system store. Null when no certificate covers
  /// the host. Every context loads those anchors, so an inbound peer's certificate can be
  /// checked against the SSL's own store; the handshake itself accepts any certificate and
  /// the federation code decides afterwards (federation/peer_identity.hpp).
  boost::asio::ssl::context* client(std::string_view local_domain);

  /// Rotates the session-ticket keys (every [tls] ticket_key_lifetime, from a timer).
  void rotate_ticket_keys() { tickets_.rotate(); }
  /// Drops expired sessions from every server context's session-ID cache (from a timer,
  /// so that they do not wait for a lookup that may never come).
  void flush_expired_sessions();

 private:
  std::shared_ptr<boost::asio::ssl::context> make_context(const std::filesystem::path& cert,
                                                          const std::filesystem::path& key);
  void enable_resumption(SSL_CTX* ctx);
  std::shared_ptr<boost::asio::ssl::context> make_client_context(const std::filesystem::path& cert,
                                                                 const std::filesystem::path& key);
  static int on_servername(SSL* ssl, int* alert, void* arg);

  std::optional<std::filesystem::path> ca_file_;
  std::chrono::seconds session_lifetime_;
  long session_cache_size_;
  TicketKeys tickets_;  // declared before the contexts that point to it: outlives them
  std::shared_ptr<boost::asio::ssl::context> default_;   // STARTTLS listeners
  std::shared_ptr<boost::asio::ssl::context> direct_;    // direct TLS: same, plus ALPN
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>, std::less<>> by_domain_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>, std::less<>> client_by_domain_;
};

/// Channel binding data for SCRAM-PLUS, or nullopt when the connection cannot give it.
/// tls-exporter (RFC 9266): 32 bytes exported with label "EXPORTER-Channel-Binding".
std::optional<std::string> tls_exporter(SSL* ssl);
/// tls-unique (RFC 5929 §3.1), TLS 1.2 only: the first Finished message of the handshake.
std::optional<std::string> tls_unique(SSL* ssl);
bool is_tls13(SSL* ssl);

}  // namespace parley::server::net
