#pragma once
// One client connection of parley-bench: TCP to the server, TLS (STARTTLS, RFC 6120 §5, or
// direct TLS, XEP-0368), SASL (SCRAM-SHA-1/256 or PLAIN, RFC 6120 §6), resource binding
// (§7), XEP-0198 stream management (enable, acks, resume), then stanzas in and out.
//
// Negotiation runs inline in the calling coroutine; once a resource is bound (or a stream
// resumed) a reader and a single writer run beside it, like the server's c2s sessions.
// Every negotiation step is bounded by Target::op_timeout: a watchdog drops the connection
// when a step takes longer, and the step reports "timeout (<step>)".
//
// Threads: a connection lives on one io_context, which has one thread; every member is
// called from that thread only.

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "contrib/bench/options.hpp"
#include "contrib/bench/stats.hpp"
#include "server/xml/element.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::bench {

namespace asio = boost::asio;
using server::xml::Element;

inline constexpr std::string_view kSmNs = "urn:xmpp:sm:3";

/// The client TLS context for a run: TLS 1.2+, peer verification against Target::ca_file
/// (or the system store) unless Target::insecure. Throws std::runtime_error.
std::shared_ptr<asio::ssl::context> make_tls_context(const Target& target);

/// A TLS session kept for resumption (shared, freed with its last owner).
using TlsSession = std::shared_ptr<SSL_SESSION>;

/// What the server offered after authentication.
struct BoundFeatures {
  bool sm = false;                 ///< XEP-0198 <sm xmlns='urn:xmpp:sm:3'/>
  bool session_required = false;   ///< legacy RFC 3921 session without <optional/>
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::any_io_executor executor, asio::ssl::context& tls, const Target& target);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- negotiation; each returns "" on success, else a short reason, and then the
  // connection is dropped.
  /// TCP, TLS and the stream up to the SASL mechanisms. With `resume_tls` set, offers that
  /// session (tls_resumed() tells whether the server took it).
  asio::awaitable<std::string> connect(TlsSession resume_tls = {});
  /// SASL with Target::mechanism as `user`, then the stream restart.
  asio::awaitable<std::string> authenticate(std::string user);
  /// Binds `resource` (the server's choice if empty); starts the reader and the writer.
  asio::awaitable<std::string> bind(std::string resource);
  /// XEP-0198 §3 after bind: <enable/> (with resume='true' when asked). "" if enabled;
  /// "not offered" when the server did not advertise it.
  asio::awaitable<std::string> enable_sm(bool resume);
  /// XEP-0198 §5 after authenticate: resumes a stream that an earlier connection enabled
  /// with resumption; "" when <resumed/>. Starts the reader and the writer.
  asio::awaitable<std::string> resume_sm(std::string previd, std::uint64_t h);
  /// XEP-0077 in-band registration after connect(), before authentication: "" when the
  /// account was created, "conflict" when it exists, else the error condition.
  asio::awaitable<std::string> register_account(std::string user);
  /// connect + authenticate + bind (+ enable_sm when Target::sm and offered).
  asio::awaitable<std::string> login(std::string user, std::string resource);

  // --- after bind
  /// Queues a stanza (or any XML) for the writer. Counts it for XEP-0198 when it is one.
  void send(std::string xml);
  /// XEP-0198: asks the server for an ack (<r/>).
  void request_ack();
  /// The next element nobody else claimed (on_stanza, the built-in replies), or nullopt at
  /// `deadline` or when the connection is gone.
  asio::awaitable<std::optional<Element>> receive(Clock::time_point deadline);
  /// Sends `request` (an <iq/> whose id is `id`) and waits for the answer until `deadline`.
  /// Other elements received meanwhile stay queued for receive().
  asio::awaitable<std::optional<Element>> iq(std::string request, std::string id, Clock::time_point deadline);
  /// Waits until the server acked every stanza sent (XEP-0198) or `deadline`; true if so.
  asio::awaitable<bool> wait_acked(Clock::time_point deadline);
  /// Ends the stream (</stream:stream>), waits briefly for the server's, closes the socket.
  asio::awaitable<void> close();
  /// Closes the socket at once, no </stream:stream> (a lost connection, for resumption).
  void drop();

  /// Called by the reader for each stanza first; returning true consumes it.
  std::function<bool(Element&)> on_stanza;

  bool closed() const { return closed_; }
  const std::string& jid() const { return jid_; }
  const BoundFeatures& features() const { return features_; }
  /// The stream error condition the server sent, if any.
  const std::string& stream_error() const { return stream_error_; }
  bool tls_resumed() const { return tls_resumed_; }
  /// The TLS session for a later connect(); empty if the server offered nothing resumable
  /// (TLS 1.3: no ticket received; TLS 1.2: neither session id nor ticket).
  TlsSession tls_session();
  std::string tls_version();

  bool sm_enabled() const { return sm_enabled_; }
  const std::string& sm_id() const { return sm_id_; }
  bool sm_resumable() const { return sm_resumable_; }
  std::uint64_t sm_inbound() const { return sm_inbound_; }
  std::uint64_t sm_outbound() const { return sm_outbound_; }
  std::uint64_t sm_acked() const { return sm_acked_; }

 private:
  class Sink;
  struct Header {};
  struct Closed {};

  static asio::awaitable<void> keep_reading(std::shared_ptr<Connection> self);
  static asio::awaitable<void> keep_writing(std::shared_ptr<Connection> self);
  static asio::awaitable<void> keep_watching(std::shared_ptr<Connection> self);
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> watchdog();

  asio::awaitable<bool> write_now(std::string data);
  asio::awaitable<bool> read_more();
  /// The next element during negotiation (stream headers skipped), or nullopt.
  asio::awaitable<std::optional<Element>> next_element();
  asio::awaitable<std::optional<Element>> open_stream();
  asio::awaitable<bool> handshake();
  void start_background();
  /// Built-in answers of a well-behaved client (pings, roster pushes, SM); true if handled.
  bool handle_internally(Element& e);
  std::string fail(std::string reason);
  void step(const char* name);
  void wake();

  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  const Target& target_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<server::xml::StreamParser> parser_;
  std::deque<Element> events_;        // parsed, not yet taken by negotiation / the reader
  bool header_seen_ = false;
  bool peer_closed_ = false;
  std::string parse_error_;
  std::string buffer_;                // read buffer, allocated at the first read

  bool tls_ = false;
  bool tls_resumed_ = false;
  bool closed_ = false;
  bool background_ = false;
  bool timed_out_ = false;
  const char* step_ = "connect";
  std::optional<Element> features_element_;
  BoundFeatures features_;
  std::string jid_;
  std::string stream_error_;

  std::deque<Element> inbox_;
  std::deque<std::string> queue_;
  asio::steady_timer wake_writer_;
  asio::steady_timer signal_;        // cancelled when something arrives for receive()
  asio::steady_timer watchdog_timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool writer_idle_ = true;

  bool sm_enabled_ = false;   // the server said <enabled/> (or <resumed/>): count inbound
  bool sm_counting_ = false;  // <enable/> was sent: count outbound
  bool sm_resumable_ = false;
  std::string sm_id_;
  std::uint64_t sm_inbound_ = 0;
  std::uint64_t sm_outbound_ = 0;
  std::uint64_t sm_acked_ = 0;
};

/// The text of the first child of `e` in the stanza-error or SASL namespaces, e.g.
/// "service-unavailable" or "not-authorized"; "" if none.
std::string error_condition(const Element& e);

/// The bare JID of a JID (everything before the first '/').
std::string bare_jid_of(std::string_view jid);

/// An iq round trip to the server (an XEP-0199 ping to `domain`): once it is answered,
/// everything sent before it on this stream has been processed (RFC 6120 §10.1: stanzas of
/// one stream are handled in order). False without an answer within `timeout`.
asio::awaitable<bool> round_trip(std::shared_ptr<Connection> conn, std::string domain,
                                 std::chrono::milliseconds timeout);

/// An id unique within this process, e.g. "b17".
std::string next_id();

/// Escapes text for use inside an XML attribute value or element content.
std::string xml_escape(std::string_view s);

}  // namespace parley::bench
