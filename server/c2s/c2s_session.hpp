#pragma once
// One client connection (RFC 6120): TLS (STARTTLS or direct, XEP-0368), SASL, resource
// binding, then stanzas to and from the router.
//
// Threads: a session lives on one io_context for its whole life; its coroutines and
// handlers run there only. send() and close() may be called from any thread: they post to
// the session's context. One write is in flight at a time; queued output is bounded, and a
// client whose queue passes the bound is disconnected (it stopped reading).
//
// Stream management (a module's StreamHooks, module_api.hpp) may keep a session whose
// connection dropped bound and "detached" (hibernating), and a new connection of the same
// account may take it over (resume). The session keeps its identity: the object that bound
// the resource stays in the session table (modules key their state by it) and becomes the
// "root"; the resuming connection is its "carrier": it writes what the root is sent and
// routes what it reads with the root as origin. The root's takeover_mutex_ orders delivery,
// the end of a connection and takeovers.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "server/accounts.hpp"
#include "server/c2s/fifo.hpp"
#include "server/login_throttle.hpp"
#include "server/module_api.hpp"
#include "server/net/connection_limiter.hpp"
#include "server/net/tls.hpp"
#include "server/net/tls_stream.hpp"
#include "server/router/router.hpp"
#include "server/sasl/scram.hpp"
#include "server/signin_log.hpp"
#include "server/xml/stream_parser.hpp"
#include "storage/runner.hpp"

namespace parley::server::c2s {

/// Timeouts and bounds of client connections.
struct Limits {
  std::chrono::seconds negotiation_timeout{30};   ///< each step before the resource is bound
  std::chrono::seconds idle_timeout{900};         ///< no byte from a bound client for so long
  std::size_t write_queue_bytes = 1024 * 1024;    ///< queued output before disconnecting
  int auth_attempts = 3;                          ///< failed SASL exchanges per connection
  std::size_t max_sessions_per_account = 16;      ///< bound resources of one account
  std::size_t read_bytes_per_second = 256 * 1024; ///< token bucket on what a client sends
  std::size_t read_burst_bytes = 1024 * 1024;
  std::chrono::seconds stanza_timeout{60};        ///< to finish a stanza once begun
  xml::StreamParser::Limits parser;
};

/// What every client session shares; owned by the server, outliving the sessions.
struct Services {
  const Config& config;
  router::Router& router;
  AccountStore& accounts;
  storage::Runner& storage;
  net::TlsContexts& tls;
  LoginThrottle& throttle;
  SigninLog& signins;
  Limits limits;
};

class C2sSession final : public ClientSession, public ClientStream, public std::enable_shared_from_this<C2sSession> {
 public:
  using Stream = net::TlsStream;  // holds no buffer while idle (docs/profiling.md)

  C2sSession(boost::asio::ip::tcp::socket socket, Services& services, bool direct_tls,
             net::ConnectionLimiter::Ticket admission);
  ~C2sSession() override;

  /// Starts the session's coroutines on its socket's executor.
  void start();

  // ClientSession
  const Jid& jid() const override { return *jid_; }
  void send(Stanza stanza) override;
  void close(std::string_view condition) override;
  std::string_view remote_address() const override { return remote_address_; }
  bool available() const override { return available_.load(std::memory_order_relaxed); }
  int priority() const override { return priority_.load(std::memory_order_relaxed); }
  void set_presence(bool available, int priority) override;
  std::chrono::steady_clock::time_point last_received() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_received_.load(std::memory_order_relaxed)));
  }

  bool detached() const override { return detached_.load(); }
  void end_if_detached(std::function<bool()> still_due) override;

  // ClientStream
  const Jid& account() const override { return *account_; }
  std::shared_ptr<ClientSession> bound_session() override;
  void write(std::string xml) override;
  void end(std::string_view condition, std::string text = {}) override;
  void set_hooks(std::shared_ptr<StreamHooks> hooks) override { hooks_ = std::move(hooks); }
  std::shared_ptr<StreamHooks> hooks() const override { return hooks_; }
  bool resume(const std::shared_ptr<ClientSession>& previous) override;
  std::shared_ptr<ClientStream> shared() override { return shared_from_this(); }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  struct Header { xml::StreamHeader header; };
  struct Closed {};
  using ParserEvent = std::variant<Header, xml::Element, Closed, xml::StreamError>;
  class ParserSink;

  static boost::asio::awaitable<void> keep_alive(std::shared_ptr<C2sSession> self, bool writer);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> read_loop();
  static boost::asio::mutable_buffer read_buffer();
  boost::asio::awaitable<void> writer();
  void arm_watchdog();
  void on_watchdog();
  void wake_writer();
  boost::asio::awaitable<bool> handshake();
  boost::asio::awaitable<void> write_now(std::string data);
  boost::asio::awaitable<void> finish(std::string_view condition, std::string text = {});

  // c2s_negotiation.cpp: one function per step of RFC 6120 §4–§7.
  boost::asio::awaitable<void> on_header(const xml::StreamHeader& header);
  boost::asio::awaitable<void> on_element(xml::Element element);
  boost::asio::awaitable<void> on_starttls();
  boost::asio::awaitable<void> on_auth(const xml::Element& auth);
  boost::asio::awaitable<void> on_response(const xml::Element& response);
  boost::asio::awaitable<void> on_bind(const xml::Element& iq);
  boost::asio::awaitable<bool> on_preauth_iq(xml::Element element);
  boost::asio::awaitable<void> on_stanza(xml::Element element);
  boost::asio::awaitable<void> sasl_failure(sasl::SaslFailure failure, bool checked_credentials = false);
  boost::asio::awaitable<void> sasl_success(const Jid& account, std::string_view server_final);
  boost::asio::awaitable<void> slow_down(std::string_view username);
  void record_signin(const Jid& account, std::string resource, bool success);
  std::string features() const;
  bool channel_binding_available() const;
  sasl::ChannelBindingInfo channel_binding_info() const;

  void enqueue(std::string data);
  void deliver(Stanza stanza);
  void reply(Stanza stanza);
  void drop_connection(std::string condition);
  void request_close(std::string condition);  // on this connection's thread
  bool on_own_thread();
  bool carried_by(const C2sSession* connection) const;  // takeover_mutex_ held
  void end_session();
  void start_writer();
  boost::asio::awaitable<void> write_negotiation(std::string data);
  void deadline_in(std::chrono::seconds s);
  void after_read(std::size_t n);
  boost::asio::awaitable<void> pace();
  void shutdown_socket();

  Services& services_;
  net::ConnectionLimiter::Ticket admission_;  // this connection's place under [limits]
  Stream stream_;
  bool direct_tls_;
  std::string remote_address_;
  // In this order: the parser reports to the sink, which fills events_.
  Fifo<ParserEvent> events_;
  std::unique_ptr<ParserSink> sink_;
  std::unique_ptr<xml::StreamParser> parser_;

  std::string domain_;               // the stream's 'to': the host this client talks to
  bool tls_ = false;
  bool header_sent_ = false;
  std::optional<Jid> account_;       // after SASL success
  std::optional<Jid> account_candidate_;  // during a SCRAM exchange
  std::string attempted_;                 // the account name tried, for the login throttle
  std::optional<Jid> attempted_account_;  // ... when it can be an account, for the sign-ins
  std::optional<Jid> jid_;           // after bind
  bool bound_ = false;
  bool closing_ = false;
  int failed_auths_ = 0;
  int preauth_iqs_ = 0;
  std::unique_ptr<sasl::ScramServer> scram_;
  std::optional<crypto::Hash> scram_hash_;

  std::atomic<bool> available_{false};
  std::atomic<int> priority_{0};
  std::atomic<std::chrono::steady_clock::rep> last_received_{0};

  Fifo<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writer_running_ = false;  // output goes through the queue (from bind until the writer ends)
  bool writer_spawned_ = false;
  bool writer_active_ = false;   // the writer coroutine is alive (only while there is output)
  bool clean_end_ = false;  // ended by </stream:stream> or a stream error of ours: not resumable

  // Stream management (StreamHooks): the hooks, and the takeover by a resuming connection.
  std::shared_ptr<StreamHooks> hooks_;
  std::mutex takeover_mutex_;
  // Of a root: the connection that carries it when not its own (under takeover_mutex_).
  std::shared_ptr<C2sSession> carrier_;
  bool ended_ = false;                       // under takeover_mutex_: unbound for good
  bool close_requested_ = false;             // under takeover_mutex_: close() on purpose, ends
  std::atomic<bool> detached_{false};        // changed under takeover_mutex_: hibernating, no connection
  // Of a carrier: the session it resumed (set once, on this connection's thread).
  std::shared_ptr<C2sSession> root_;
  // Another connection took over the session this one carried: what it still reads is
  // ignored (not counted, not routed), the client resends it on the new connection.
  std::atomic<bool> superseded_{false};
  std::optional<std::string> pending_close_;  // close() or the watchdog asked the reader to end
  boost::asio::steady_timer writer_done_;
  boost::asio::steady_timer watchdog_timer_;
  bool watchdog_asked_ = false;  // the reader was asked to close: next time the socket is shut
  bool watchdog_done_ = false;
  std::chrono::steady_clock::time_point deadline_;
  // Reading: a token bucket of bytes ([limits] read_bytes_per_second, read_burst_bytes),
  // and when the stanza now being received began (for [limits] stanza_timeout).
  double read_tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_;
  std::optional<std::chrono::steady_clock::time_point> stanza_since_;
};

}  // namespace parley::server::c2s
