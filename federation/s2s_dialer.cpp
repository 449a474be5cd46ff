// The initiating side of RFC 6120 up to a secured stream (§3.2 resolution, §4.3 streams,
// §5 STARTTLS; XEP-0368 direct TLS).
#include "federation/s2s_dialer.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "federation/domain_name.hpp"
#include "federation/federation.hpp"
#include "federation/s2s_protocol.hpp"
#include "federation/srv_resolver.hpp"
#include "server/log.hpp"

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace parley::federation {

namespace xml = server::xml;
namespace log = server::log;

Dialer::Dialer(Federation& federation, asio::any_io_executor executor, std::string local, std::string remote,
               std::string label)
    : federation_(federation),
      executor_(std::move(executor)),
      local_(std::move(local)),
      remote_(std::move(remote)),
      label_(std::move(label)) {}

void Dialer::fail(std::string reason, bool timeout) {
  log::info("{}: {}", label_, reason);
  failure_ = std::move(reason);
  timeout_ = timeout;
}

void Dialer::abort() {
  aborted_ = true;
  if (current_ != nullptr) current_->abort();
}

asio::awaitable<std::unique_ptr<S2sConnection>> Dialer::dial(Step& step) {
  const auto& settings = federation_.settings();
  auto deadline = std::chrono::steady_clock::now() + settings.connect_timeout;
  asio::ssl::context* tls = federation_.tls().client(local_);
  if (tls == nullptr) {
    fail("no certificate for " + local_ + " ([tls] or the host's certificate)");
    co_return nullptr;
  }
  ResolverOptions options;
  options.routes = settings.routes;
  options.deadline = std::chrono::duration_cast<std::chrono::milliseconds>(settings.connect_timeout);
  ResolveResult where;
  {
    SrvResolver resolver(executor_, options);
    where = co_await resolver.resolve(remote_);
  }
  if (!where.ok()) {
    fail(where.reason, where.error == ResolveError::timeout);
    co_return nullptr;
  }
  for (const auto& candidate : where.candidates) {
    for (const auto& address : candidate.addresses) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (aborted_) {
        fail("the server is shutting down");
        co_return nullptr;
      }
      if (left <= std::chrono::steady_clock::duration::zero()) {
        fail("no authenticated link within connect_timeout", true);
        co_return nullptr;
      }
      auto conn = std::make_unique<S2sConnection>(tcp::socket(executor_), *tls, federation_.stream_limits(), label_);
      conn->deadline_in(left);
      current_ = conn.get();
      auto outcome = co_await (attempt(*conn, candidate, address, step) || conn->watchdog());
      current_ = nullptr;
      if (const bool* ok = std::get_if<bool>(&outcome); ok != nullptr && *ok) co_return conn;
      if (conn->timed_out()) fail("no answer from " + address.to_string() + " in time", true);
    }
  }
  co_return nullptr;
}

asio::awaitable<bool> Dialer::attempt(S2sConnection& conn, const ResolvedCandidate& candidate,
                                      const asio::ip::address& address, Step& step) {
  std::string where = address.to_string() + " port " + std::to_string(candidate.port);
  auto [ec] = co_await conn.socket().async_connect(tcp::endpoint(address, candidate.port), as_tuple(use_awaitable));
  if (ec) {
    fail(where + ": " + ec.message());
    co_return false;
  }
  boost::system::error_code ignored;
  conn.socket().set_option(tcp::no_delay(true), ignored);
  conn.set_label(label_ + " (" + where + ")");
  // SNI names the domain we want (RFC 6120 §13.7.2.1), in A-labels.
  std::string sni = to_ascii_domain(remote_).value_or(remote_);
  SSL_set_tlsext_host_name(conn.ssl(), sni.c_str());
  if (candidate.direct_tls) {
    static const unsigned char kAlpn[] = "\x0bxmpp-server";  // XEP-0368 §4
    SSL_set_alpn_protos(conn.ssl(), kAlpn, sizeof kAlpn - 1);
    bool secured = co_await conn.handshake(false);
    if (!secured) {
      fail(where + ": TLS handshake failed");
      co_return false;
    }
  }
  OpenedStream stream = co_await open_stream(conn);
  if (!stream.ok) co_return false;
  if (!conn.tls()) {
    if (stream.features.find_child("starttls", kTlsNs) == nullptr) {
      fail("the peer does not offer STARTTLS");
      co_await conn.close("policy-violation", "this server requires TLS between servers");
      co_return false;
    }
    co_await conn.write(std::string("<starttls xmlns='") + std::string(kTlsNs) + "'/>");
    StreamEvent ev = co_await conn.next();
    const xml::Element* proceed = std::get_if<xml::Element>(&ev);
    if (proceed == nullptr || proceed->name() != "proceed") {
      fail("STARTTLS refused: " + describe(ev, conn.timed_out()));
      co_return false;
    }
    conn.restart_stream();
    bool secured = co_await conn.handshake(false);
    if (!secured) {
      fail("TLS handshake failed");
      co_return false;
    }
    stream = co_await open_stream(conn);
    if (!stream.ok) co_return false;
  }
  bool done = co_await step.after_tls(*this, conn, stream);
  co_return done;
}

asio::awaitable<OpenedStream> Dialer::open_stream(S2sConnection& conn) {
  OpenedStream out;
  bool sent = co_await conn.write(s2s_stream_header(local_, remote_, {}, true));
  StreamEvent ev{Gone{}};
  if (sent) ev = co_await conn.next();  // not inside ?: (GCC 12 miscompiles co_await there)
  auto* opened = std::get_if<StreamOpened>(&ev);
  if (opened == nullptr) {
    fail(describe(ev, conn.timed_out()));
    co_return out;
  }
  out.stream_id = opened->header.id;
  ev = co_await conn.next();
  auto* features = std::get_if<xml::Element>(&ev);
  if (features == nullptr || !is_features(*features)) {
    fail(describe(ev, conn.timed_out()));
    co_return out;
  }
  out.features = std::move(*features);
  out.ok = true;
  co_return out;
}

}  // namespace parley::federation
