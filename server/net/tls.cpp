#include "server/net/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ctime>
#include <stdexcept>

#include "server/net/tls_stream.hpp"

namespace asio = boost::asio;

namespace parley::server::net {
namespace {

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (forward secrecy, no CBC).
// TLS 1.3 suites are all ECDHE/AEAD already.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// XEP-0368: "xmpp-client" on c2s-tls, "xmpp-server" on s2s-tls. Every context offers both
// (a host's context, chosen by SNI, serves either kind of listener); the listener type
// decides what the stream may do.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kXmpp[] = "\x0bxmpp-client\x0bxmpp-server";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kXmpp, sizeof kXmpp - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // A client that offers other protocols only still gets XMPP: no ALPN in the answer.
  return SSL_TLSEXT_ERR_NOACK;
}

// The policy of every context; resumption is off here and enabled for the server contexts
// only (enable_resumption): outbound s2s links keep no sessions.
void apply_policy(SSL_CTX* c) {
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set1_groups_list(c, kGroups) != 1) {
    throw std::runtime_error("TLS policy rejected by OpenSSL: " + openssl_error());
  }
}

void load_pair(SSL_CTX* c, const std::filesystem::path& cert, const std::filesystem::path& key) {
  if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) != 1) {
    throw std::runtime_error("cannot load certificate " + cert.string() + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load private key " + key.string() + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    throw std::runtime_error("private key " + key.string() + " does not match " + cert.string());
  }
}

// The anchors that peer servers' certificates are checked against (federation): [tls]
// ca_file, or the system store. Clients are not asked for certificates.
void load_trust(SSL_CTX* c, const std::optional<std::filesystem::path>& ca_file) {
  if (ca_file) {
    if (SSL_CTX_load_verify_locations(c, ca_file->c_str(), nullptr) != 1) {
      throw std::runtime_error("cannot load trust anchors " + ca_file->string() + ": " + openssl_error());
    }
  } else {
    SSL_CTX_set_default_verify_paths(c);
    ERR_clear_error();  // a system without a store is not an error until a peer is checked
  }
}

// The chain sent with our certificate, built once here instead of on every handshake
// (OpenSSL's automatic chain building verifies the chain's signatures each time): the
// intermediates from the certificate file or the trust store, without a self-signed root,
// which a peer must already have to trust us (RFC 8446 §4.4.2, RFC 5246 §7.4.2) and would
// only decode for nothing. A chain that cannot be completed (issuer unknown, expired) is
// sent as far as it goes, as before; if OpenSSL cannot build anything, it still chains
// automatically.
void build_chain_once(SSL_CTX* c) {
  const int built = SSL_CTX_build_cert_chain(c, SSL_BUILD_CHAIN_FLAG_UNTRUSTED | SSL_BUILD_CHAIN_FLAG_NO_ROOT |
                                                    SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
                                                    SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
  if (built > 0) SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN);
  ERR_clear_error();
}

}  // namespace

std::shared_ptr<asio::ssl::context> TlsContexts::make_context(const std::filesystem::path& cert,
                                                              const std::filesystem::path& key) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  apply_policy(ctx->native_handle());
  load_pair(ctx->native_handle(), cert, key);
  load_trust(ctx->native_handle(), ca_file_);
  build_chain_once(ctx->native_handle());
  enable_resumption(ctx->native_handle());
  // Client connections free OpenSSL's object once idle (TlsStream::take_over_records).
  TlsStream::capture_traffic_secrets(ctx->native_handle());
  return ctx;
}

// Tickets under the rotating in-memory keys (one per TLS 1.3 handshake), and a bounded
// session-ID cache for TLS 1.2 clients without tickets, both valid for one key lifetime.
void TlsContexts::enable_resumption(SSL_CTX* c) {
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(c, 1);
  tickets_.install(c);
  static const unsigned char kContext[] = "parley";
  SSL_CTX_set_session_id_context(c, kContext, sizeof kContext - 1);
  // Size 0 would mean "unbounded" to OpenSSL: here it means no session-ID cache (tickets
  // only). Expired entries are purged by flush_expired_sessions(), not by OpenSSL's own
  // occasional sweep.
  SSL_CTX_set_session_cache_mode(c, session_cache_size_ == 0 ? SSL_SESS_CACHE_OFF
                                                            : SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_sess_set_cache_size(c, session_cache_size_);
  SSL_CTX_set_timeout(c, static_cast<long>(session_lifetime_.count()));
}

void TlsContexts::flush_expired_sessions() {
  long now = static_cast<long>(std::time(nullptr));
  for (auto* ctx : {default_.get(), direct_.get()}) {
    if (ctx != nullptr) SSL_CTX_flush_sessions(ctx->native_handle(), now);
  }
  for (auto& [domain, ctx] : by_domain_) SSL_CTX_flush_sessions(ctx->native_handle(), now);
}

std::shared_ptr<asio::ssl::context> TlsContexts::make_client_context(const std::filesystem::path& cert,
                                                                     const std::filesystem::path& key) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  apply_policy(ctx->native_handle());
  load_pair(ctx->native_handle(), cert, key);
  load_trust(ctx->native_handle(), ca_file_);
  build_chain_once(ctx->native_handle());
  return ctx;
}

TlsContexts::TlsContexts(const Config& config)
    : ca_file_(config.tls.ca_file),
      session_lifetime_(config.tls.ticket_key_lifetime),
      session_cache_size_(static_cast<long>(config.tls.session_cache_size)) {
  for (const auto& host : config.hosts) {
    if (host.certificate && host.private_key) {
      by_domain_[host.domain] = make_context(*host.certificate, *host.private_key);
      client_by_domain_[host.domain] = make_client_context(*host.certificate, *host.private_key);
    } else if (config.tls.certificate && config.tls.private_key) {
      client_by_domain_[host.domain] = make_client_context(*config.tls.certificate, *config.tls.private_key);
    }
  }
  if (config.tls.certificate && config.tls.private_key) {
    default_ = make_context(*config.tls.certificate, *config.tls.private_key);
    direct_ = make_context(*config.tls.certificate, *config.tls.private_key);
  } else if (!by_domain_.empty()) {
    // No [tls] pair: a client that sends no SNI gets the first host's certificate.
    for (const auto& host : config.hosts) {
      if (host.certificate) {
        default_ = make_context(*host.certificate, *host.private_key);
        direct_ = make_context(*host.certificate, *host.private_key);
        break;
      }
    }
  } else {
    return;  // no certificate at all: fine until a listener needs one (has_certificate())
  }
  for (auto* ctx : {default_.get(), direct_.get()}) {
    SSL_CTX_set_tlsext_servername_callback(ctx->native_handle(), &TlsContexts::on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx->native_handle(), this);
  }
  SSL_CTX_set_alpn_select_cb(direct_->native_handle(), select_alpn, nullptr);
  for (auto& [domain, ctx] : by_domain_) SSL_CTX_set_alpn_select_cb(ctx->native_handle(), select_alpn, nullptr);
}

asio::ssl::context& TlsContexts::server(bool alpn) { return alpn ? *direct_ : *default_; }

asio::ssl::context* TlsContexts::client(std::string_view local_domain) {
  auto it = client_by_domain_.find(local_domain);
  return it == client_by_domain_.end() ? nullptr : it->second.get();
}

int TlsContexts::on_servername(SSL* ssl, int*, void* arg) {
  auto* self = static_cast<TlsContexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  auto it = self->by_domain_.find(std::string_view(name));
  if (it != self->by_domain_.end()) SSL_set_SSL_CTX(ssl, it->second->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

std::optional<std::string> tls_exporter(SSL* ssl) {
  // RFC 9266 §2: defined for TLS 1.3 (and 1.2 with extended master secret; we offer it on
  // TLS 1.3 only, where it is always safe).
  if (!is_tls13(ssl)) return std::nullopt;
  std::string out(32, '\0');
  static const char kLabel[] = "EXPORTER-Channel-Binding";
  if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                 kLabel, sizeof kLabel - 1, nullptr, 0, 0) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> tls_unique(SSL* ssl) {
  if (ssl == nullptr || is_tls13(ssl)) return std::nullopt;  // RFC 9266 §3: not defined for TLS 1.3
  // On a full handshake the first Finished is the client's, which the server received.
  unsigned char buf[64];
  std::size_t n = SSL_session_reused(ssl) ? SSL_get_finished(ssl, buf, sizeof buf)
                                          : SSL_get_peer_finished(ssl, buf, sizeof buf);
  if (n == 0 || n > sizeof buf) return std::nullopt;
  return std::string(reinterpret_cast<char*>(buf), n);
}

bool is_tls13(SSL* ssl) { return ssl != nullptr && SSL_version(ssl) >= TLS1_3_VERSION; }

}  // namespace parley::server::net
