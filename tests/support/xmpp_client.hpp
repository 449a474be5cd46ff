#pragma once
// A small, blocking XMPP client for the integration tests: TCP to loopback, STARTTLS or
// direct TLS verified against the test CA, SASL (SCRAM, PLAIN), bind, and stanzas in and
// out with timeouts. Written like a transcript: "alice sends ... / alice receives ...".

#include <openssl/ssl.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "server/xml/element.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::test {

struct ClientOptions {
  std::uint16_t port = 0;
  std::string domain = "localhost";
  std::string ca_file;          ///< the test CA; the server's certificate is verified
  bool direct_tls = false;      ///< XEP-0368 (ALPN xmpp-client) instead of STARTTLS
  int max_tls_version = 0;      ///< e.g. TLS1_2_VERSION to force TLS 1.2; 0 = any
  int min_tls_version = 0;      ///< with a value, the client's security level drops to 0
  std::string cipher_list;      ///< TLS 1.2 cipher suites to offer (OpenSSL syntax)
  /// Speak as a server (jabber:server, 'from' = this domain) for s2s tests; with a client
  /// certificate to present.
  std::string server_from;
  std::string certificate, private_key;
  /// The name the server's certificate must carry, when not `domain`.
  std::string tls_name;
  /// A TLS session to resume (from XmppClient::session()); not owned.
  SSL_SESSION* resume = nullptr;
};

class XmppClient {
 public:
  explicit XmppClient(ClientOptions options);
  ~XmppClient();
  XmppClient(const XmppClient&) = delete;
  XmppClient& operator=(const XmppClient&) = delete;

  // --- raw transcript steps ---
  void send(std::string_view xml);
  /// The next top-level element (features, stanza, SASL answer, stream error...), or nullopt
  /// when none arrives in time or the stream ended.
  std::optional<server::xml::Element> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Skips elements until one named `name` arrives (e.g. "message"); nullopt on timeout.
  std::optional<server::xml::Element> receive_named(std::string_view name,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// True once the server closed the stream or the connection; waits up to `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The <stream:error/> condition the server sent, if any ("" if none).
  const std::string& stream_error() const { return stream_error_; }
  /// The parser's own error on what the server sent (should stay empty).
  const std::string& parse_error() const { return parse_error_; }

  // --- negotiation steps ---
  /// Sends a stream header and returns <stream:features/>.
  std::optional<server::xml::Element> open_stream(std::string_view to = {});
  /// STARTTLS and the new stream; returns the features after TLS.
  std::optional<server::xml::Element> starttls();
  /// Connects and brings the stream to the SASL step (TLS on); returns the features.
  std::optional<server::xml::Element> connect_tls();
  /// After SASL success: a new stream (RFC 6120 §6.4.6); returns its features.
  std::optional<server::xml::Element> restart_stream();
  /// Runs a SASL exchange; "" on success, else the failure condition ("not-authorized").
  std::string authenticate(const std::string& mechanism, const std::string& user,
                           const std::string& password);
  /// Binds a resource (empty: server-generated); returns the full JID, "" on failure.
  std::string bind(const std::string& resource = {});
  /// connect_tls + authenticate + stream restart + bind; returns the full JID.
  std::string login(const std::string& user, const std::string& password,
                    const std::string& resource = {}, const std::string& mechanism = "SCRAM-SHA-256");

  const std::string& jid() const { return jid_; }
  SSL* ssl() const { return ssl_; }
  /// The TLS session (with its ticket), for ClientOptions::resume; the caller frees it.
  SSL_SESSION* session() const { return ssl_ ? SSL_get1_session(ssl_) : nullptr; }
  /// Whether the TLS handshake resumed a session.
  bool resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }
  /// The channel-binding data of this TLS connection (tls-exporter on 1.3, tls-unique on 1.2).
  std::string channel_binding(std::string_view type) const;

 private:
  class Sink;
  bool read_some(std::chrono::steady_clock::time_point deadline);
  void write_all(std::string_view data);
  bool handshake();

  ClientOptions options_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<server::xml::StreamParser> parser_;
  std::deque<server::xml::Element> inbox_;
  bool closed_ = false;
  std::string stream_error_;
  std::string parse_error_;
  std::string jid_;
};

/// Parses an XML snippet (one element, jabber:client as default namespace) for assertions.
server::xml::Element parse_xml(std::string_view xml);

/// The defined condition of an error stanza (RFC 6120 §8.3.3), "" for another stanza.
std::string error_condition(const server::xml::Element& stanza);
/// The <text/> of a stanza's error, "" if none.
std::string error_text(const server::xml::Element& stanza);
/// The <body/> of a message, "" if none.
std::string body(const server::xml::Element& message);

}  // namespace parley::test
