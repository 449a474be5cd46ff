#pragma once
// One outbound server-to-server link, from a local domain to a remote one (RFC 6120 §3.2,
// §5, §6; XEP-0368; XEP-0178):
//   resolve (routes, SRV, A/AAAA) -> TCP -> STARTTLS or direct TLS -> the peer's certificate
//   must verify and name the remote domain -> SASL EXTERNAL -> stanzas.
// Stanzas queue while it connects. When every address fails within [federation]
// connect_timeout, the queued stanzas bounce to their senders (remote-server-not-found, or
// remote-server-timeout when time ran out); nothing is dropped silently. An idle link
// closes after [federation] idle_timeout; one that the peer closed while stanzas were
// waiting connects once more.
//
// With XEP-0288 (both sides support it) the same connection also carries the peer's
// stanzas to us: when we connected, the reader routes them; and a connection the peer
// opened and asked to be bidirectional becomes a link of its own ("adopted").
//
// Threads: lives on one io_context; send() and stop() may be called from any thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "federation/s2s_connection.hpp"
#include "federation/s2s_dialer.hpp"
#include "federation/s2s_protocol.hpp"
#include "server/stanza.hpp"

namespace parley::federation {

class Federation;

class OutboundLink final : public std::enable_shared_from_this<OutboundLink>, private Dialer::Step {
 public:
  /// A link that connects out.
  OutboundLink(Federation& federation, boost::asio::any_io_executor executor, std::string local, std::string remote);
  /// A link over an authenticated bidirectional connection the peer opened (XEP-0288).
  OutboundLink(Federation& federation, std::unique_ptr<S2sConnection> established, std::string local,
               std::string remote);
  ~OutboundLink();

  void start();
  void send(server::Stanza stanza);
  void stop();

 private:
  static boost::asio::awaitable<void> keep_alive(std::shared_ptr<OutboundLink> self);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> connect();
  // Dialer::Step: authenticate on the secured stream (SASL EXTERNAL, else dialback).
  boost::asio::awaitable<bool> after_tls(Dialer& dialer, S2sConnection& conn, const OpenedStream& stream) override;
  boost::asio::awaitable<bool> sasl_external(Dialer& dialer, S2sConnection& conn, const OpenedStream& stream);
  boost::asio::awaitable<bool> dialback(Dialer& dialer, S2sConnection& conn, const OpenedStream& stream);
  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<void> reader();
  boost::asio::awaitable<void> writer();
  void accept_stanza(server::Stanza stanza);
  void bounce_queue();
  void fail(std::string reason, bool timeout = false);

  Federation& federation_;
  boost::asio::any_io_executor executor_;
  std::string local_;
  std::string remote_;
  std::string label_;
  enum class State { connecting, ready, retired } state_ = State::connecting;
  bool stopping_ = false;
  std::deque<server::Stanza> queue_;
  std::unique_ptr<S2sConnection> conn_;
  Dialer* dialer_ = nullptr;   // while connecting
  boost::asio::steady_timer wake_;
  std::string failure_;        // why the last attempt failed, for logs and bounces
  bool failure_timeout_ = false;
  std::string authenticated_by_;  // "SASL EXTERNAL" or "dialback", for the log
  bool adopted_ = false;       // the peer opened the connection (XEP-0288)
  bool bidi_ = false;          // the peer's stanzas arrive on this connection too
  std::optional<StanzaRefusal> refusal_;  // why the reader ends the stream
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace parley::federation
