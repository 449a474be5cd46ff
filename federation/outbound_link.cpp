// The initiating side of RFC 6120 (§4.3 streams, §5 STARTTLS, §6 SASL) for one pair of
// domains, authenticated with XEP-0178: we check the receiving server's certificate for the
// remote domain, then authenticate ourselves with SASL EXTERNAL and our own certificate.
#include "federation/outbound_link.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "federation/domain_name.hpp"
#include "federation/federation.hpp"
#include "federation/peer_identity.hpp"
#include "federation/s2s_protocol.hpp"
#include "federation/srv_resolver.hpp"
#include "server/crypto.hpp"
#include "server/log.hpp"
#include "server/xml/serializer.hpp"

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace parley::federation {

namespace xml = server::xml;
namespace log = server::log;
using server::Stanza;
using server::StanzaError;

OutboundLink::OutboundLink(Federation& federation, asio::any_io_executor executor, std::string local,
                           std::string remote)
    : federation_(federation),
      executor_(std::move(executor)),
      local_(std::move(local)),
      remote_(std::move(remote)),
      label_("s2s " + local_ + " -> " + remote_),
      wake_(executor_) {}

OutboundLink::OutboundLink(Federation& federation, std::unique_ptr<S2sConnection> established, std::string local,
                           std::string remote)
    : OutboundLink(federation, established->socket().get_executor(), std::move(local), std::move(remote)) {
  conn_ = std::move(established);
  adopted_ = true;
  bidi_ = true;
  label_ += " (over its connection, XEP-0288)";
}

OutboundLink::~OutboundLink() = default;

asio::awaitable<void> OutboundLink::keep_alive(std::shared_ptr<OutboundLink> self) { co_await self->run(); }

void OutboundLink::start() { asio::co_spawn(executor_, keep_alive(shared_from_this()), asio::detached); }

void OutboundLink::send(Stanza stanza) {
  asio::post(executor_, [self = shared_from_this(), st = std::move(stanza)]() mutable {
    self->accept_stanza(std::move(st));
  });
}

void OutboundLink::accept_stanza(Stanza stanza) {
  if (state_ == State::retired) {
    // Posted before this link retired: the next link takes it.
    federation_.send_remote(std::move(stanza));
    return;
  }
  queue_.push_back(std::move(stanza));
  if (state_ == State::ready) wake_.cancel();
}

void OutboundLink::stop() {
  asio::post(executor_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->wake_.cancel();
    if (self->dialer_ != nullptr) self->dialer_->abort();
  });
}

void OutboundLink::fail(std::string reason, bool timeout) {  // after the link was up
  log::info("{}: {}", label_, reason);
  failure_ = std::move(reason);
  failure_timeout_ = timeout;
}

// RFC 6120 §8.3.3.16/.17: the sender learns why, and whether waiting could help.
void OutboundLink::bounce_queue() {
  std::string text = "cannot reach " + remote_ + ": " + failure_;
  StanzaError error = failure_timeout_ ? StanzaError::remote_server_timeout(text)
                                       : StanzaError::remote_server_not_found(text);
  if (!queue_.empty()) log::info("{}: {} stanza(s) returned to their senders", label_, queue_.size());
  while (!queue_.empty()) {
    federation_.router().bounce(queue_.front(), error);
    queue_.pop_front();
  }
}

asio::awaitable<void> OutboundLink::run() {
  if (adopted_) {
    state_ = State::ready;
    log::info("{}: ready", label_);
    co_await serve();
    conn_.reset();
    federation_.retire(this);
    state_ = State::retired;
    // What is still waiting goes out through a link of our own.
    while (!queue_.empty()) {
      federation_.send_remote(std::move(queue_.front()));
      queue_.pop_front();
    }
    co_return;
  }
  for (int round = 0;; ++round) {
    bool connected = co_await connect();
    if (!connected) break;
    state_ = State::ready;
    log::info("{}: authenticated with {}{}", label_, authenticated_by_, bidi_ ? " (bidirectional)" : "");
    co_await serve();
    conn_.reset();
    state_ = State::connecting;
    // The peer closed the link with stanzas still waiting: one more connection for them.
    if (queue_.empty() || stopping_ || round >= 1) {
      if (!queue_.empty()) fail("the link closed before they could be sent");
      break;
    }
  }
  federation_.retire(this);
  state_ = State::retired;
  bounce_queue();
}

asio::awaitable<bool> OutboundLink::connect() {
  Dialer dialer(federation_, executor_, local_, remote_, label_);
  dialer_ = &dialer;
  if (stopping_) dialer.abort();
  conn_ = co_await dialer.dial(*this);
  dialer_ = nullptr;
  if (!conn_) {
    failure_ = dialer.failure();
    failure_timeout_ = dialer.timed_out();
    co_return false;
  }
  co_return true;
}

// XEP-0178: SASL EXTERNAL when the receiving server's certificate proves its domain and it
// accepts ours; XEP-0220 dialback instead only where [federation] allows it for that domain.
asio::awaitable<bool> OutboundLink::after_tls(Dialer& dialer, S2sConnection& conn, const OpenedStream& stream) {
  CheckResult peer = authenticate_peer(conn.ssl(), remote_, nullptr, ChainPurpose::tls_server);
  bool external = peer && offers_mechanism(stream.features, "EXTERNAL");
  bool dialback_allowed = federation_.settings().dialback_allowed(remote_);
  if (!external && !dialback_allowed) {
    if (!peer) {
      dialer.fail("its certificate does not prove it is " + remote_ + ": " + peer.reason);
      co_await conn.close("not-authorized", "your certificate does not authenticate " + remote_);
    } else {
      dialer.fail("it does not offer SASL EXTERNAL to " + local_ +
                  " (it did not accept our certificate, and dialback is not enabled)");
      co_await conn.close();
    }
    co_return false;
  }
  if (stream.features.find_child("bidi", kBidiFeatureNs) != nullptr) {
    // XEP-0288 §2.2: before authenticating; no answer comes.
    co_await conn.write(std::string("<bidi xmlns='") + std::string(kBidiNs) + "'/>");
    bidi_ = true;
  }
  if (external) {
    bool ok = co_await sasl_external(dialer, conn, stream);
    co_return ok;
  }
  if (!peer) log::info("{}: {}; dialback is allowed for {}", label_, peer.reason, remote_);
  bool ok = co_await dialback(dialer, conn, stream);
  co_return ok;
}

asio::awaitable<bool> OutboundLink::sasl_external(Dialer& dialer, S2sConnection& conn, const OpenedStream&) {
  // XEP-0178 §3 step 5: the authorization identity is our domain.
  co_await conn.write(std::string("<auth xmlns='") + std::string(kSaslNs) + "' mechanism='EXTERNAL'>" +
                      server::crypto::base64_encode(local_) + "</auth>");
  StreamEvent ev = co_await conn.next();
  const xml::Element* answer = std::get_if<xml::Element>(&ev);
  if (answer == nullptr || answer->ns() != kSaslNs || answer->name() != "success") {
    dialer.fail("SASL EXTERNAL failed: " + describe(ev, conn.timed_out()));
    co_await conn.close();
    co_return false;
  }
  conn.restart_stream();  // RFC 6120 §6.4.6
  OpenedStream again = co_await dialer.open_stream(conn);
  if (!again.ok) co_return false;
  authenticated_by_ = "SASL EXTERNAL";
  co_return true;
}

// XEP-0220 §2.1: our key for this stream of the receiving server; it asks our authoritative
// server (us, or another process with the same secret) whether the key is right.
asio::awaitable<bool> OutboundLink::dialback(Dialer& dialer, S2sConnection& conn, const OpenedStream& stream) {
  if (stream.stream_id.empty()) {
    dialer.fail("dialback needs the receiving server's stream id, and it sent none");
    co_await conn.close("undefined-condition", "dialback needs a stream id");
    co_return false;
  }
  std::string key = federation_.dialback_keys().generate(remote_, local_, stream.stream_id);
  co_await conn.write(dialback_result_request(local_, remote_, key));
  for (;;) {
    StreamEvent ev = co_await conn.next();
    const xml::Element* answer = std::get_if<xml::Element>(&ev);
    if (answer == nullptr || is_stream_error(*answer)) {
      dialer.fail("dialback failed: " + describe(ev, conn.timed_out()));
      co_return false;
    }
    if (answer->name() != "result" || answer->ns() != kDialbackNs) continue;  // e.g. a <db:verify/> reply
    // XEP-0220 §2.4: the answer for our domain pair.
    if (answer->attr("from") != remote_ || answer->attr("to") != local_) continue;
    if (answer->attr("type") == "valid") break;
    dialer.fail("dialback refused (" + std::string(answer->attr("type").value_or("no type")) + ")");
    co_await conn.close();
    co_return false;
  }
  authenticated_by_ = "dialback";
  co_return true;
}

asio::awaitable<void> OutboundLink::serve() {
  conn_->deadline_in(std::chrono::hours(24 * 365));  // the writer's idle timer decides
  last_activity_ = std::chrono::steady_clock::now();
  refusal_.reset();
  co_await (reader() || writer() || conn_->watchdog());
  std::string condition, text;
  if (refusal_) {
    condition = refusal_->condition;
    text = refusal_->text;
  }
  co_await (conn_->close(condition, text) || conn_->watchdog());
}

// Without XEP-0288 only the close, keepalives or a stream error come from the peer; with
// it, the peer's stanzas too, checked like those of an inbound stream.
asio::awaitable<void> OutboundLink::reader() {
  auto is_local = [this](std::string_view domain) { return federation_.is_local(domain); };
  for (;;) {
    StreamEvent ev = co_await conn_->next();
    if (auto* e = std::get_if<xml::Element>(&ev)) {
      if (is_stream_error(*e)) {
        log::info("{}: the peer ended the link: {}", label_, describe(ev, false));
        co_return;
      }
      if (!bidi_) {
        log::debug("{}: ignored <{}/> from the receiving server", label_, e->name());
        continue;
      }
      last_activity_ = std::chrono::steady_clock::now();
      auto taken = take_inbound_stanza(std::move(*e), remote_, is_local);
      if (auto* refusal = std::get_if<StanzaRefusal>(&taken)) {
        refusal_ = std::move(*refusal);
        co_return;
      }
      co_await federation_.router().route(std::move(std::get<Stanza>(taken)));
      continue;
    }
    if (auto* err = std::get_if<xml::StreamError>(&ev)) {
      log::info("{}: bad XML from the peer: {}", label_, err->condition);
    }
    co_return;
  }
}

asio::awaitable<void> OutboundLink::writer() {
  const auto idle = federation_.settings().idle_timeout;
  bool said_goodbye = false;
  for (;;) {
    if (queue_.empty() || said_goodbye) {
      bool idle_now = false;
      if (!said_goodbye) {
        // Idle: nothing sent or (with XEP-0288) received for idle_timeout.
        wake_.expires_at(last_activity_ + idle);
        auto [ec] = co_await wake_.async_wait(as_tuple(use_awaitable));
        idle_now = !ec && std::chrono::steady_clock::now() >= last_activity_ + idle;
      } else {
        wake_.expires_at(asio::steady_timer::time_point::max());
        co_await wake_.async_wait(as_tuple(use_awaitable));
      }
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) co_return;
      if (said_goodbye || !queue_.empty()) continue;
      if (idle_now || stopping_) {
        // Idle or shutting down: our closing tag; the reader waits for the peer's, bounded.
        said_goodbye = true;
        if (idle_now) log::info("{}: idle, closing", label_);
        conn_->deadline_in(std::chrono::seconds(2));
        std::string bye = conn_->goodbye(stopping_ ? "system-shutdown" : "");
        bool ok = co_await conn_->write(std::move(bye));
        if (!ok) co_return;
      }
      continue;
    }
    // Stanzas leave the queue only once written: a failed write leaves them for the next
    // connection (run()), or for a bounce.
    std::string batch;
    std::size_t count = 0;
    for (const auto& st : queue_) {
      if (batch.size() >= 64 * 1024) break;
      xml::serialize_to(batch, st.element, server::kClientNs);  // the stream's jabber:server applies
      ++count;
    }
    bool ok = co_await conn_->write(std::move(batch));
    if (!ok) co_return;
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    last_activity_ = std::chrono::steady_clock::now();
  }
}

}  // namespace parley::federation
