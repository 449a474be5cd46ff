#pragma once
// One inbound server-to-server stream: the receiving side of RFC 6120 for a peer that
// connected to an s2s (STARTTLS required) or s2s-tls (direct TLS) listener.
//   header (to: a local domain; from: the peer) -> STARTTLS -> the peer's certificate must
//   verify and name the domain it claims (XEP-0178) -> SASL EXTERNAL -> stanzas, each
//   'from' the authenticated domain and 'to' a local one, handed to the router in order.
// When the peer asks for a bidirectional stream (XEP-0288), the authenticated connection
// becomes the link that carries our stanzas to that domain too (federation.hpp, adopt).
// A peer that [federation] allow/deny refuses gets <policy-violation/>; one whose
// certificate does not prove its domain gets <not-authorized/> with the reason, unless
// [federation] dialback allows XEP-0220 for it. A <db:verify/> is answered on any stream
// after TLS (we are then the Authoritative Server for a key we handed out).
//
// Threads: lives on one io_context; stop() may be called from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "federation/s2s_connection.hpp"
#include "server/net/connection_limiter.hpp"

namespace parley::federation {

class Federation;

class InboundStream final : public std::enable_shared_from_this<InboundStream> {
 public:
  InboundStream(Federation& federation, boost::asio::ip::tcp::socket socket, bool direct_tls,
                server::net::ConnectionLimiter::Ticket admission);
  ~InboundStream();

  void start();
  /// Ends the stream with <system-shutdown/>.
  void stop();

 private:
  static boost::asio::awaitable<void> keep_alive(std::shared_ptr<InboundStream> self);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> negotiate();
  boost::asio::awaitable<bool> on_header(const server::xml::StreamHeader& header);
  enum class Auth { failed, sasl, dialback };
  boost::asio::awaitable<Auth> authenticate();
  boost::asio::awaitable<Auth> sasl_external(const server::xml::Element& auth);
  boost::asio::awaitable<Auth> dialback_result(const server::xml::Element& request);
  boost::asio::awaitable<void> answer_verify(const server::xml::Element& request);
  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<void> close_for(const StreamEvent& unexpected);

  Federation& federation_;
  server::net::ConnectionLimiter::Ticket admission_;
  bool direct_tls_;
  boost::asio::any_io_executor executor_;  // before conn_: taken from the socket it moves
  std::unique_ptr<S2sConnection> conn_;  // null once handed to a bidirectional link
  std::string local_;          // the stream's 'to'
  std::string peer_;           // the stream's 'from', as claimed
  std::string authenticated_;  // after SASL EXTERNAL or dialback
  std::string method_;         // which of the two, for the log
  std::string stream_id_;      // our id of the current stream
  bool bidi_ = false;           // the peer asked for XEP-0288
  bool stopping_ = false;
};

}  // namespace parley::federation
