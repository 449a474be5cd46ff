// The receiving side of RFC 6120 (§4.3, §5, §6) for a peer server, authenticated with
// XEP-0178 (its certificate, then SASL EXTERNAL). Dialback (XEP-0220) is not offered.
#include "federation/inbound_stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>

#include "federation/dialback.hpp"
#include "federation/dialback_key.hpp"
#include "federation/federation.hpp"
#include "federation/peer_identity.hpp"
#include "federation/s2s_protocol.hpp"
#include "server/crypto.hpp"
#include "server/log.hpp"

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace parley::federation {

namespace xml = server::xml;
namespace log = server::log;

namespace {

// A domain from a stream header in the form the router uses; "" if it is not one.
std::string header_domain(std::string_view text) {
  auto jid = server::Jid::parse(text);
  if (!jid || jid->has_local() || !jid->is_bare()) return {};
  return std::string(jid->domain());
}

}  // namespace

InboundStream::InboundStream(Federation& federation, asio::ip::tcp::socket socket, bool direct_tls,
                             server::net::ConnectionLimiter::Ticket admission)
    : federation_(federation),
      admission_(std::move(admission)),
      direct_tls_(direct_tls),
      executor_(socket.get_executor()),
      conn_(std::make_unique<S2sConnection>(std::move(socket), federation.tls().server(direct_tls),
                                            federation.stream_limits(), "s2s in")) {
  conn_->set_label("s2s in " + conn_->remote_address());
}

InboundStream::~InboundStream() = default;

asio::awaitable<void> InboundStream::keep_alive(std::shared_ptr<InboundStream> self) { co_await self->run(); }

void InboundStream::start() { asio::co_spawn(executor_, keep_alive(shared_from_this()), asio::detached); }

void InboundStream::stop() {
  asio::post(executor_, [self = shared_from_this()] {
    self->stopping_ = true;
    if (self->conn_) self->conn_->interrupt();
  });
}

asio::awaitable<void> InboundStream::run() {
  conn_->deadline_in(federation_.settings().negotiation_timeout);
  try {
    auto negotiated = co_await (negotiate() || conn_->watchdog());
    const bool* ready = std::get_if<bool>(&negotiated);
    if (ready != nullptr && *ready) {
      log::info("{}: authenticated as {} with {}{}", conn_->label(), authenticated_, method_,
                bidi_ ? " (bidirectional)" : "");
      // XEP-0288: our stanzas for the peer's domain may use this connection from now on.
      bool adopted = bidi_ && federation_.adopt(conn_, local_, authenticated_);
      if (!adopted) co_await (serve() || conn_->watchdog());
    }
  } catch (const std::exception& e) {
    log::error("s2s in: {}", e.what());
  }
  if (conn_) conn_->abort();
  federation_.forget(this);
}

asio::awaitable<void> InboundStream::serve() {
  auto is_local = [this](std::string_view domain) { return federation_.is_local(domain); };
  const auto idle = federation_.settings().idle_timeout;
  conn_->deadline_in(idle);
  for (;;) {
    StreamEvent ev = co_await conn_->next();
    auto* element = std::get_if<xml::Element>(&ev);
    if (element == nullptr || stopping_ || is_stream_error(*element)) {
      co_await close_for(ev);
      co_return;
    }
    conn_->deadline_in(idle);
    auto taken = take_inbound_stanza(std::move(*element), authenticated_, is_local);
    if (auto* refusal = std::get_if<StanzaRefusal>(&taken)) {
      co_await conn_->close(refusal->condition, refusal->text);
      co_return;
    }
    co_await federation_.router().route(std::move(std::get<server::Stanza>(taken)));
  }
}

asio::awaitable<bool> InboundStream::negotiate() {
  if (direct_tls_) {
    bool secured = co_await conn_->handshake(true);
    if (!secured) co_return false;
  }
  // At most three streams: before TLS, after TLS, after SASL (RFC 6120 §5.4.3.3, §6.4.6).
  for (int stream = 0; stream < 3; ++stream) {
    StreamEvent ev = co_await conn_->next();
    auto* opened = std::get_if<StreamOpened>(&ev);
    if (opened == nullptr) {
      co_await close_for(ev);
      co_return false;
    }
    bool accepted = co_await on_header(opened->header);
    if (!accepted) co_return false;
    if (!conn_->tls()) {
      // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here.
      co_await conn_->write("<stream:features><starttls xmlns='" + std::string(kTlsNs) + "'><required/></starttls>" +
                            std::string(kBidiFeature) + "</stream:features>");
      ev = co_await conn_->next();
      auto* starttls = std::get_if<xml::Element>(&ev);
      if (starttls == nullptr || starttls->name() != "starttls" || starttls->ns() != kTlsNs) {
        if (starttls != nullptr && !is_stream_error(*starttls)) {
          co_await conn_->close("policy-violation", "STARTTLS is required between servers");
        } else {
          co_await close_for(ev);
        }
        co_return false;
      }
      co_await conn_->write("<proceed xmlns='" + std::string(kTlsNs) + "'/>");
      conn_->restart_stream();
      bool secured = co_await conn_->handshake(true);
      if (!secured) co_return false;
      continue;
    }
    if (authenticated_.empty()) {
      Auth how = co_await authenticate();
      if (how == Auth::failed) co_return false;
      if (how == Auth::dialback) co_return true;  // no stream restart (XEP-0220)
      continue;
    }
    co_await conn_->write("<stream:features/>");  // nothing more to negotiate
    co_return true;
  }
  co_await conn_->close("policy-violation", "too many stream restarts");
  co_return false;
}

// Answers a stream header with ours (RFC 6120 §4.9.1.3: also before an error), then checks
// it: a local 'to', a 'from' naming the peer, version 1.0, the allow/deny lists.
asio::awaitable<bool> InboundStream::on_header(const xml::StreamHeader& header) {
  std::string to = header_domain(header.to);
  std::string from = header_domain(header.from);
  bool ours = !to.empty() && federation_.is_local(to);
  std::string id = server::crypto::base64_encode(server::crypto::random_bytes(12));
  stream_id_ = id;  // dialback keys are bound to it (XEP-0220 §2.1.2)
  std::string reply = s2s_stream_header(ours ? to : "", from, id, true);
  co_await conn_->write(std::move(reply));
  if (!ours) {
    std::string why = (header.to.empty() ? std::string("no 'to'") : header.to) + " is not served here";
    co_await conn_->close("host-unknown", why);
    co_return false;
  }
  if (header.version != "1.0") {
    co_await conn_->close("unsupported-version", "this server speaks XMPP 1.0 streams only");
    co_return false;
  }
  if (from.empty()) {
    // RFC 6120 §4.7.1 lets 'from' out; we need it to know whose certificate to check.
    co_await conn_->close("invalid-from", "the stream header must name the sending domain");
    co_return false;
  }
  if ((!local_.empty() && to != local_) || (!peer_.empty() && from != peer_)) {
    co_await conn_->close("invalid-from", "the domains changed between stream restarts");
    co_return false;
  }
  if (!federation_.settings().permits(from)) {
    co_await conn_->close("policy-violation", "this server does not federate with " + from);
    co_return false;
  }
  if (local_.empty()) conn_->set_label(conn_->label() + " " + from + " -> " + to);
  local_ = to;
  peer_ = from;
  conn_->deadline_in(federation_.settings().negotiation_timeout);
  co_return true;
}

// XEP-0178 §3: EXTERNAL is offered only to a peer whose certificate verifies and names the
// domain it claims; XEP-0220 dialback only where [federation] allows it for that domain.
// A <db:verify/> is answered whatever the peer is (we are the Authoritative Server then).
asio::awaitable<InboundStream::Auth> InboundStream::authenticate() {
  CheckResult check = authenticate_peer(conn_->ssl(), peer_, nullptr, ChainPurpose::tls_server);
  bool dialback = federation_.settings().dialback_allowed(peer_);
  if (!check && !dialback) {
    co_await conn_->close("not-authorized", "your certificate does not authenticate " + peer_ + ": " + check.reason);
    co_return Auth::failed;
  }
  std::string features = "<stream:features>";
  if (check) {
    features += "<mechanisms xmlns='" + std::string(kSaslNs) + "'><mechanism>EXTERNAL</mechanism></mechanisms>";
  }
  if (dialback) features += "<dialback xmlns='" + std::string(kDialbackFeatureNs) + "'><errors/></dialback>";
  co_await conn_->write(features + std::string(kBidiFeature) + "</stream:features>");
  for (;;) {
    StreamEvent ev = co_await conn_->next();
    auto* e = std::get_if<xml::Element>(&ev);
    if (e == nullptr || is_stream_error(*e)) {
      co_await close_for(ev);
      co_return Auth::failed;
    }
    if (e->name() == "bidi" && e->ns() == kBidiNs) {
      bidi_ = true;  // XEP-0288 §2.2: sent before authenticating, with no answer
    } else if (is_dialback(*e, "verify")) {
      co_await answer_verify(*e);
    } else if (is_dialback(*e, "result") && (dialback || check)) {
      // With a certificate that proves the domain, dialback weakens nothing: a peer that
      // cannot trust *our* certificate may prefer it.
      Auth outcome = co_await dialback_result(*e);
      co_return outcome;
    } else if (e->name() == "auth" && e->ns() == kSaslNs && check) {
      Auth outcome = co_await sasl_external(*e);
      co_return outcome;
    } else {
      co_await close_for(ev);
      co_return Auth::failed;
    }
  }
}

asio::awaitable<InboundStream::Auth> InboundStream::sasl_external(const xml::Element& auth) {
  std::string_view failure;
  ExternalOutcome outcome;
  if (auth.attr("mechanism").value_or("") != "EXTERNAL") {
    failure = "invalid-mechanism";
  } else {
    outcome = check_external_auth(auth.text(), peer_);
    failure = outcome.failure;
  }
  if (!failure.empty()) {
    co_await conn_->write("<failure xmlns='" + std::string(kSaslNs) + "'><" + std::string(failure) + "/></failure>");
    log::info("{}: SASL EXTERNAL refused: {}", conn_->label(), failure);
    co_await conn_->close();
    co_return Auth::failed;
  }
  co_await conn_->write("<success xmlns='" + std::string(kSaslNs) + "'/>");
  authenticated_ = outcome.domain;
  method_ = "SASL EXTERNAL";
  conn_->restart_stream();
  co_return Auth::sasl;
}

// XEP-0220 §2.2: the Receiving Server's side. The key must be confirmed by the authoritative
// server of the domain the peer claims, reached through DNS (or a route) like any link.
asio::awaitable<InboundStream::Auth> InboundStream::dialback_result(const xml::Element& request) {
  std::string from = header_domain(request.attr("from").value_or(""));
  std::string to = header_domain(request.attr("to").value_or(""));
  if (to != local_) {
    co_await conn_->close("host-unknown", "dialback for " + to + " on a stream to " + local_);
    co_return Auth::failed;
  }
  if (from != peer_) {
    co_await conn_->close("invalid-from", "dialback for " + from + " on a stream from " + peer_);
    co_return Auth::failed;
  }
  const auto& settings = federation_.settings();
  conn_->deadline_in(settings.connect_timeout + settings.negotiation_timeout);
  bool valid = co_await verify_dialback_key(federation_, executor_, local_, peer_, stream_id_, request.text());
  co_await conn_->write(dialback_result_answer(local_, peer_, valid));
  if (!valid) {
    log::info("{}: dialback for {} refused", conn_->label(), peer_);
    co_await conn_->close();
    co_return Auth::failed;
  }
  authenticated_ = peer_;
  method_ = "dialback";
  co_return Auth::dialback;
}

// XEP-0220 §2.3/§2.4: the Authoritative Server's answer, tied to the request by from, to
// and id. The key is ours only if we made it for exactly that stream and pair of domains.
asio::awaitable<void> InboundStream::answer_verify(const xml::Element& request) {
  std::string receiving = header_domain(request.attr("from").value_or(""));
  std::string originating = header_domain(request.attr("to").value_or(""));
  std::string id(request.attr("id").value_or(""));
  bool valid = !receiving.empty() && federation_.is_local(originating) &&
               federation_.dialback_keys().verify(receiving, originating, id, request.text());
  log::info("{}: dialback verify for {} -> {}: {}", conn_->label(), originating, receiving,
            valid ? "valid" : "invalid");
  co_await conn_->write(dialback_verify_answer(request.attr("to").value_or(""), request.attr("from").value_or(""), id, valid));
}

asio::awaitable<void> InboundStream::close_for(const StreamEvent& ev) {
  if (stopping_) {
    co_await conn_->close("system-shutdown");
  } else if (std::holds_alternative<StreamClosed>(ev)) {
    co_await conn_->close();
  } else if (auto* err = std::get_if<xml::StreamError>(&ev)) {
    co_await conn_->close(err->condition, err->text);
  } else if (auto* e = std::get_if<xml::Element>(&ev)) {
    if (is_stream_error(*e)) {
      log::info("{}: {}", conn_->label(), describe(ev, false));
      co_await conn_->close();
    } else {
      // RFC 6120 §4.9.3.12: nothing but negotiation before the stream is authenticated.
      co_await conn_->close("not-authorized", "<" + e->name() + "/> before the stream was authenticated");
    }
  } else if (std::holds_alternative<StreamOpened>(ev)) {
    co_await conn_->close("not-authorized", "a new stream header in the middle of a negotiation step");
  }
  // Gone: the connection is over already.
}

}  // namespace parley::federation
