#pragma once
// The I/O half of one server-to-server TCP connection, for both directions: TLS (STARTTLS
// or direct, XEP-0368), the XML stream in the jabber:server namespace, reading one event at
// a time, writing, a deadline watchdog and a proper close (RFC 6120 §4.4, §4.9).
//
// The protocol steps are written straight through by its owners (inbound_stream.cpp,
// outbound_link.cpp): `auto ev = co_await conn.next(); ...`.
//
// Threads: a connection lives on the executor of its socket; every member is called from
// coroutines on that executor only. One read and one write may be in flight at once.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <variant>

#include "server/xml/element.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::federation {

/// What next() gives: the peer's stream header, a top-level element, the peer's
/// </stream:stream>, a stream error found in its input, or Gone (the connection ended,
/// was cancelled, or the deadline passed).
struct StreamOpened { server::xml::StreamHeader header; };
struct StreamClosed {};
struct Gone {};
using StreamEvent = std::variant<StreamOpened, server::xml::Element, StreamClosed, server::xml::StreamError, Gone>;

class S2sConnection {
 public:
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  /// `label` names the connection in logs ("s2s in 127.0.0.1", "s2s out a.test->b.test").
  S2sConnection(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls,
                server::xml::StreamLimits limits, std::string label);
  ~S2sConnection();

  const std::string& label() const { return label_; }
  void set_label(std::string label) { label_ = std::move(label); }
  SSL* ssl() { return stream_.native_handle(); }
  boost::asio::ip::tcp::socket& socket() { return stream_.next_layer(); }
  bool tls() const { return tls_; }
  bool open() const { return !closed_; }
  std::string remote_address() const;

  /// The TLS handshake; false (logged) on failure. As a server it asks the peer for its
  /// certificate but accepts any: the caller checks it (peer_identity.hpp).
  boost::asio::awaitable<bool> handshake(bool as_server);
  /// The next event of the peer's stream; Gone once the connection is over.
  boost::asio::awaitable<StreamEvent> next();
  /// Writes at once (one write at a time); false if the connection failed.
  boost::asio::awaitable<bool> write(std::string data);
  /// Expects a fresh stream header (after STARTTLS and SASL success).
  void restart_stream();

  /// Ends the stream: the stream error `condition` (if not empty) with `text`, the closing
  /// tag, TLS close_notify, then the socket. Waits for each step only a little.
  boost::asio::awaitable<void> close(std::string_view condition = {}, std::string_view text = {});
  /// Closes the socket now: pending reads and writes end at once.
  void abort();
  /// Cancels the read in progress without closing: next() gives Gone, and the owner may
  /// still close() properly (used to ask a stream to shut down from another coroutine).
  void interrupt();
  /// The closing tag, or with a condition the stream error and the closing tag, to write
  /// through the owner's own writer; close() then sends no second one.
  std::string goodbye(std::string_view condition = {}, std::string_view text = {});

  /// The watchdog aborts the connection when the deadline passes; run it beside the owner's
  /// coroutine (`co_await (owner() || conn.watchdog())`). Moving the deadline is cheap.
  void deadline_in(std::chrono::steady_clock::duration d);
  boost::asio::awaitable<void> watchdog();
  bool timed_out() const { return timed_out_; }

 private:
  class Sink;

  Stream stream_;
  std::string label_;
  std::deque<StreamEvent> events_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<server::xml::StreamParser> parser_;
  std::string buffer_;
  bool tls_ = false;
  bool closed_ = false;
  bool timed_out_ = false;
  bool interrupted_ = false;
  bool goodbye_sent_ = false;
  std::chrono::steady_clock::time_point deadline_;
  boost::asio::steady_timer watchdog_timer_;
};

/// What an unexpected event means, for logs and bounces: "no answer in time", "the peer
/// closed the connection", "stream error from the peer: host-unknown", "unexpected <x/>".
std::string describe(const StreamEvent& event, bool timed_out);

/// <stream:stream xmlns='jabber:server' ...> with from, to, id and version 1.0; with
/// `dialback`, also xmlns:db='jabber:server:dialback' (XEP-0220 §2.1).
std::string s2s_stream_header(std::string_view from, std::string_view to, std::string_view id = {},
                              bool dialback = false);

}  // namespace parley::federation
