// The client connection: negotiation steps in order (RFC 6120 §4–§7, XEP-0198), then a
// reader and a single writer. Follows the code base's rules for GCC 12 coroutines: no
// co_await inside a condition, strings built into named variables before they are awaited
// on, and background coroutines spawned as functions taking a shared_ptr by value.
#include "contrib/bench/connection.hpp"

#include <netinet/tcp.h>
#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

#include "server/crypto.hpp"
#include "server/sasl/scram.hpp"
#include "server/xml/serializer.hpp"

namespace parley::bench {
namespace {

using asio::as_tuple;
using asio::use_awaitable;
namespace xml = server::xml;

constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNs = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kSessionNs = "urn:ietf:params:xml:ns:xmpp-session";
constexpr std::string_view kStanzaErrorNs = "urn:ietf:params:xml:ns:xmpp-stanzas";
constexpr std::size_t kReadBuffer = 4096;  // small: the idle scenario holds thousands

// Resolved once per host and port; loopback names resolve instantly, but not on every login.
std::vector<asio::ip::tcp::endpoint> endpoints_for(const Target& t) {
  static std::mutex mu;
  static std::map<std::string, std::vector<asio::ip::tcp::endpoint>> cache;
  std::string key = t.host + ":" + std::to_string(t.port);
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(t.host, ec);
  std::vector<asio::ip::tcp::endpoint> eps;
  if (!ec) {
    eps.emplace_back(addr, t.port);
  } else {
    asio::io_context io;
    asio::ip::tcp::resolver r(io);
    for (const auto& e : r.resolve(t.host, std::to_string(t.port), ec)) eps.push_back(e.endpoint());
  }
  cache[key] = eps;
  return eps;
}

std::string sasl_element(std::string_view name, std::string_view mechanism, std::string_view payload) {
  std::string out = "<" + std::string(name) + " xmlns='" + std::string(kSaslNs) + "'";
  if (!mechanism.empty()) out += " mechanism='" + std::string(mechanism) + "'";
  out += ">" + (payload.empty() ? std::string("=") : server::crypto::base64_encode(payload));
  return out + "</" + std::string(name) + ">";
}

bool is_stanza(const Element& e) {
  return e.ns() == xml::kClientNs && (e.name() == "message" || e.name() == "presence" || e.name() == "iq");
}

bool starts_stanza(std::string_view x) {
  return x.starts_with("<message") || x.starts_with("<presence") || x.starts_with("<iq");
}

std::string openssl_reason(const boost::system::error_code& ec) {
  std::string m = ec.message();
  unsigned long e = ERR_peek_last_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    m += std::string(" (") + buf + ")";
  }
  return m;
}

}  // namespace

class Connection::Sink final : public xml::StreamParser::Handler {
 public:
  explicit Sink(Connection& c) : c_(c) {}
  void on_stream_open(const xml::StreamHeader&) override { c_.header_seen_ = true; }
  void on_stanza(Element&& e) override {
    if (e.name() == "error" && e.ns() == xml::kStreamNs) {
      for (const auto& child : e.children()) {
        if (child.ns() == xml::kStreamErrorNs && child.name() != "text") c_.stream_error_ = child.name();
      }
    }
    c_.events_.push_back(std::move(e));
  }
  void on_stream_close() override { c_.peer_closed_ = true; }
  void on_error(xml::StreamError e) override {
    c_.parse_error_ = e.condition + ": " + e.text;
    c_.peer_closed_ = true;
  }

 private:
  Connection& c_;
};

std::shared_ptr<asio::ssl::context> make_tls_context(const Target& target) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (target.insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (target.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(target.ca_file, ec);
    }
    if (ec) throw std::runtime_error("cannot load trust anchors " + target.ca_file + ": " + ec.message());
  }
  return ctx;
}

std::string error_condition(const Element& e) {
  if (const auto* err = e.find_child("error", xml::kClientNs)) {
    for (const auto& c : err->children()) {
      if (c.ns() == kStanzaErrorNs && c.name() != "text") return c.name();
    }
    return "error";
  }
  for (const auto& c : e.children()) {
    if (c.name() != "text") return c.name();
  }
  return "";
}

std::string bare_jid_of(std::string_view jid) { return std::string(jid.substr(0, jid.find('/'))); }

asio::awaitable<bool> round_trip(std::shared_ptr<Connection> conn, std::string domain, std::chrono::milliseconds timeout) {
  std::string id = next_id();
  std::string ping = "<iq type='get' id='" + id + "' to='" + xml_escape(domain) + "'><ping xmlns='urn:xmpp:ping'/></iq>";
  auto r = co_await conn->iq(std::move(ping), id, Clock::now() + timeout);
  co_return r.has_value();
}

std::string next_id() {
  static std::atomic<std::uint64_t> n{0};
  return "b" + std::to_string(n.fetch_add(1, std::memory_order_relaxed));
}

std::string xml_escape(std::string_view s) {
  std::string out;
  xml::append_escaped_attr(out, s);
  return out;
}

Connection::Connection(asio::any_io_executor executor, asio::ssl::context& tls, const Target& target)
    : stream_(executor, tls),
      target_(target),
      sink_(std::make_unique<Sink>(*this)),
      parser_(std::make_unique<xml::StreamParser>(*sink_)),
      wake_writer_(executor),
      signal_(executor),
      watchdog_timer_(executor) {
  // The tool's memory is not what is measured: keep the parser rather than re-create it.
  parser_->set_release_when_idle(false);
}

Connection::~Connection() = default;

// --- background coroutines: each keeps the connection alive through its parameter.

asio::awaitable<void> Connection::keep_reading(std::shared_ptr<Connection> self) { co_await self->read_loop(); }
asio::awaitable<void> Connection::keep_writing(std::shared_ptr<Connection> self) { co_await self->write_loop(); }
asio::awaitable<void> Connection::keep_watching(std::shared_ptr<Connection> self) { co_await self->watchdog(); }

void Connection::step(const char* name) {
  step_ = name;
  deadline_ = Clock::now() + target_.op_timeout;
  watchdog_timer_.cancel();  // re-arms the watchdog at the new deadline
}

std::string Connection::fail(std::string reason) {
  if (timed_out_) reason = std::string("timeout (") + step_ + ")";
  else if (!stream_error_.empty()) reason = "stream error " + stream_error_ + " (" + step_ + ")";
  drop();
  return reason;
}

void Connection::wake() { signal_.cancel(); }

void Connection::drop() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
  wake_writer_.cancel();
  signal_.cancel();
  watchdog_timer_.cancel();
}

asio::awaitable<void> Connection::watchdog() {
  while (!closed_) {
    watchdog_timer_.expires_at(deadline_);
    co_await watchdog_timer_.async_wait(as_tuple(use_awaitable));
    if (closed_) break;
    if (Clock::now() >= deadline_) {
      timed_out_ = true;
      drop();
      break;
    }
  }
}

asio::awaitable<bool> Connection::write_now(std::string data) {
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(data), as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_.next_layer(), asio::buffer(data), as_tuple(use_awaitable));
  }
  co_return !ec;
}

asio::awaitable<bool> Connection::read_more() {
  if (buffer_.empty()) buffer_.resize(kReadBuffer);
  std::string& buffer = buffer_;
  std::size_t n = 0;
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(buffer), as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await stream_.next_layer().async_read_some(asio::buffer(buffer), as_tuple(use_awaitable));
  }
  if (ec) {
    peer_closed_ = true;
    co_return false;
  }
  parser_->feed(std::string_view(buffer.data(), n));
  co_return true;
}

asio::awaitable<std::optional<Element>> Connection::next_element() {
  for (;;) {
    if (!events_.empty()) {
      Element e = std::move(events_.front());
      events_.pop_front();
      co_return e;
    }
    if (peer_closed_ || closed_) co_return std::nullopt;
    bool ok = co_await read_more();
    (void)ok;  // on failure peer_closed_ is set; queued events are still delivered first
  }
}

asio::awaitable<std::optional<Element>> Connection::open_stream() {
  header_seen_ = false;
  std::string header = "<?xml version='1.0'?><stream:stream to='" + xml_escape(target_.domain) +
                       "' version='1.0' xml:lang='en' xmlns='jabber:client' "
                       "xmlns:stream='http://etherx.jabber.org/streams'>";
  bool ok = co_await write_now(std::move(header));
  if (!ok) co_return std::nullopt;
  for (;;) {
    auto e = co_await next_element();
    if (!e) co_return std::nullopt;
    if (e->name() == "features" && e->ns() == xml::kStreamNs) co_return e;
    if (e->name() == "error" && e->ns() == xml::kStreamNs) co_return std::nullopt;
  }
}

asio::awaitable<bool> Connection::handshake() {
  SSL* ssl = stream_.native_handle();
  SSL_set_tlsext_host_name(ssl, target_.domain.c_str());
  if (!target_.insecure) SSL_set1_host(ssl, target_.domain.c_str());
  if (target_.direct_tls) {
    static const unsigned char kAlpn[] = "\x0bxmpp-client";
    SSL_set_alpn_protos(ssl, kAlpn, sizeof kAlpn - 1);
  }
  auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
  if (ec) {
    parse_error_ = "TLS handshake failed: " + openssl_reason(ec);
    co_return false;
  }
  tls_ = true;
  tls_resumed_ = SSL_session_reused(ssl) == 1;
  co_return true;
}

asio::awaitable<std::string> Connection::connect(TlsSession resume_tls) {
  co_spawn(stream_.get_executor(), keep_watching(shared_from_this()), asio::detached);
  step("tcp connect");
  auto endpoints = endpoints_for(target_);
  if (endpoints.empty()) co_return fail("cannot resolve " + target_.host);
  auto [ec, ep] = co_await asio::async_connect(stream_.next_layer(), endpoints, as_tuple(use_awaitable));
  if (ec) co_return fail("tcp connect: " + ec.message());
  stream_.next_layer().set_option(asio::ip::tcp::no_delay(true), ec);
  if (resume_tls) SSL_set_session(stream_.native_handle(), resume_tls.get());
  if (target_.direct_tls) {
    step("tls handshake");
    bool secured = co_await handshake();
    if (!secured) co_return fail(parse_error_);
  }
  step("stream header");
  auto features = co_await open_stream();
  if (!features) co_return fail("no stream features");
  if (!target_.direct_tls) {
    if (features->find_child("starttls", kTlsNs) == nullptr) co_return fail("server offers no STARTTLS");
    step("starttls");
    std::string starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    bool sent = co_await write_now(std::move(starttls));
    if (!sent) co_return fail("write failed");
    auto proceed = co_await next_element();
    if (!proceed || proceed->name() != "proceed") co_return fail("STARTTLS refused");
    parser_->reset();
    events_.clear();
    step("tls handshake");
    bool secured = co_await handshake();
    if (!secured) co_return fail(parse_error_);
    step("stream header");
    features = co_await open_stream();
    if (!features) co_return fail("no stream features after TLS");
  }
  features_element_ = std::move(features);
  co_return std::string();
}

asio::awaitable<std::string> Connection::authenticate(std::string user) {
  step("sasl");
  const std::string& mech = target_.mechanism;
  bool offered = false;
  std::string all;
  if (const auto* ms = features_element_->find_child("mechanisms", kSaslNs)) {
    for (const auto& m : ms->children()) {
      all += (all.empty() ? "" : " ") + m.text();
      if (m.text() == mech) offered = true;
    }
  }
  if (!offered) co_return fail("mechanism " + mech + " not offered (offered: " + all + ")");
  std::optional<Element> outcome;
  std::unique_ptr<server::sasl::ScramClient> scram;
  if (mech == "PLAIN") {
    std::string payload = std::string(1, '\0') + user + std::string(1, '\0') + target_.password;
    std::string auth = sasl_element("auth", mech, payload);
    bool sent = co_await write_now(std::move(auth));
    if (!sent) co_return fail("write failed");
    outcome = co_await next_element();
  } else {
    auto hash = mech == "SCRAM-SHA-1" ? server::crypto::Hash::sha1 : server::crypto::Hash::sha256;
    server::sasl::ScramClientOptions scram_options;
    scram_options.salted_password_cache = target_.scram_cache.get();
    scram = std::make_unique<server::sasl::ScramClient>(hash, user, target_.password, scram_options);
    std::string auth = sasl_element("auth", mech, scram->first());
    bool sent = co_await write_now(std::move(auth));
    if (!sent) co_return fail("write failed");
    auto challenge = co_await next_element();
    if (!challenge) co_return fail("connection lost during SASL");
    if (challenge->name() != "challenge") co_return fail("sasl " + error_condition(*challenge));
    auto server_first = server::crypto::base64_decode(challenge->text());
    std::optional<std::string> final;
    if (server_first) final = scram->final(*server_first);
    if (!final) co_return fail("bad SCRAM challenge");
    std::string response = sasl_element("response", "", *final);
    sent = co_await write_now(std::move(response));
    if (!sent) co_return fail("write failed");
    outcome = co_await next_element();
  }
  if (!outcome) co_return fail("connection lost during SASL");
  if (outcome->name() != "success") co_return fail("sasl " + error_condition(*outcome));
  if (scram) {
    // RFC 5802 §3: the server proves it knows the password too.
    std::string text = outcome->text();
    auto server_final = server::crypto::base64_decode(text);
    if (!server_final || !scram->verify(*server_final)) co_return fail("server signature did not verify");
  }
  parser_->reset();
  events_.clear();
  step("stream restart");
  auto features = co_await open_stream();
  if (!features) co_return fail("no stream features after SASL");
  features_.sm = features->find_child("sm", kSmNs) != nullptr;
  if (const auto* s = features->find_child("session", kSessionNs)) {
    features_.session_required = s->find_child("optional", kSessionNs) == nullptr;
  }
  co_return std::string();
}

asio::awaitable<std::string> Connection::bind(std::string resource) {
  step("bind");
  std::string iq = "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>";
  if (!resource.empty()) iq += "<resource>" + xml_escape(resource) + "</resource>";
  iq += "</bind></iq>";
  bool sent = co_await write_now(std::move(iq));
  if (!sent) co_return fail("write failed");
  for (;;) {
    auto r = co_await next_element();
    if (!r) co_return fail("connection lost during bind");
    if (r->name() != "iq" || r->attr("id") != "bind1") continue;
    if (r->attr("type") != "result") co_return fail("bind " + error_condition(*r));
    const auto* b = r->find_child("bind", kBindNs);
    const auto* j = b ? b->find_child("jid", kBindNs) : nullptr;
    jid_ = j ? j->text() : "";
    break;
  }
  if (features_.session_required) {
    // RFC 3921 §3 session establishment, for servers that still require it.
    step("session");
    std::string session = "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>";
    sent = co_await write_now(std::move(session));
    if (!sent) co_return fail("write failed");
    for (;;) {
      auto r = co_await next_element();
      if (!r) co_return fail("connection lost during session");
      if (r->name() == "iq" && r->attr("id") == "sess1") break;
    }
  }
  start_background();
  co_return std::string();
}

void Connection::start_background() {
  background_ = true;
  deadline_ = Clock::time_point::max();
  watchdog_timer_.cancel();
  wake_writer_.expires_at(Clock::time_point::max());
  co_spawn(stream_.get_executor(), keep_reading(shared_from_this()), asio::detached);
  co_spawn(stream_.get_executor(), keep_writing(shared_from_this()), asio::detached);
}

asio::awaitable<std::string> Connection::enable_sm(bool resume) {
  if (!features_.sm) co_return std::string("not offered");
  if (closed_) co_return std::string("connection closed");
  sm_outbound_ = 0;
  sm_acked_ = 0;
  sm_counting_ = true;
  send(resume ? "<enable xmlns='urn:xmpp:sm:3' resume='true'/>" : "<enable xmlns='urn:xmpp:sm:3'/>");
  auto deadline = Clock::now() + target_.op_timeout;
  std::deque<Element> stash;
  std::string result = "timeout (sm enable)";
  for (;;) {
    auto e = co_await receive(deadline);
    if (!e) break;
    if (e->ns() == kSmNs && e->name() == "enabled") {
      result.clear();
      break;
    }
    if (e->ns() == kSmNs && e->name() == "failed") {
      result = "sm enable failed: " + error_condition(*e);
      break;
    }
    stash.push_back(std::move(*e));
  }
  for (auto it = stash.rbegin(); it != stash.rend(); ++it) inbox_.push_front(std::move(*it));
  co_return result;
}

asio::awaitable<std::string> Connection::resume_sm(std::string previd, std::uint64_t h) {
  step("sm resume");
  std::string resume = "<resume xmlns='urn:xmpp:sm:3' h='" + std::to_string(h) + "' previd='" + xml_escape(previd) + "'/>";
  bool sent = co_await write_now(std::move(resume));
  if (!sent) co_return fail("write failed");
  auto r = co_await next_element();
  if (!r) co_return fail("connection lost during resume");
  if (r->ns() != kSmNs || r->name() != "resumed") co_return fail("resume " + r->name() + " " + error_condition(*r));
  sm_enabled_ = true;
  sm_counting_ = true;
  sm_resumable_ = true;
  sm_id_ = previd;
  sm_inbound_ = h;
  if (auto acked = r->attr("h")) sm_acked_ = std::strtoull(std::string(*acked).c_str(), nullptr, 10);
  sm_outbound_ = std::max(sm_outbound_, sm_acked_);
  start_background();
  co_return std::string();
}

asio::awaitable<std::string> Connection::register_account(std::string user) {
  step("register");
  std::string iq = "<iq type='set' id='reg1' to='" + xml_escape(target_.domain) +
                   "'><query xmlns='jabber:iq:register'><username>" + xml_escape(user) + "</username><password>" +
                   xml_escape(target_.password) + "</password></query></iq>";
  bool sent = co_await write_now(std::move(iq));
  if (!sent) co_return fail("write failed");
  for (;;) {
    auto r = co_await next_element();
    if (!r) co_return fail("connection lost during registration");
    if (r->name() != "iq" || r->attr("id") != "reg1") continue;
    std::string result;
    if (r->attr("type") != "result") result = error_condition(*r);
    drop();
    co_return result;
  }
}

asio::awaitable<std::string> Connection::login(std::string user, std::string resource) {
  std::string err = co_await connect();
  if (!err.empty()) co_return err;
  err = co_await authenticate(std::move(user));
  if (!err.empty()) co_return err;
  err = co_await bind(std::move(resource));
  if (!err.empty()) co_return err;
  if (target_.sm && features_.sm) {
    err = co_await enable_sm(true);
    if (!err.empty()) co_return err;
  }
  co_return std::string();
}

void Connection::send(std::string data) {
  if (closed_) return;
  if (sm_counting_ && starts_stanza(data)) ++sm_outbound_;
  queue_.push_back(std::move(data));
  wake_writer_.cancel();
}

void Connection::request_ack() { send("<r xmlns='urn:xmpp:sm:3'/>"); }

bool Connection::handle_internally(Element& e) {
  if (e.ns() == xml::kStreamNs) return e.name() == "error";  // recorded by the sink
  if (e.ns() == kSmNs) {
    if (e.name() == "r") {
      send("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(sm_inbound_) + "'/>");
      return true;
    }
    if (e.name() == "a") {
      if (auto h = e.attr("h")) sm_acked_ = std::strtoull(std::string(*h).c_str(), nullptr, 10);
      wake();
      return true;
    }
    if (e.name() == "enabled") {
      // XEP-0198 §3: from here on, both sides count stanzas.
      sm_enabled_ = true;
      sm_inbound_ = 0;
      auto r = e.attr("resume");
      sm_resumable_ = r == "true" || r == "1";
      sm_id_ = std::string(e.attr("id").value_or(""));
    }
    return false;
  }
  if (sm_enabled_ && is_stanza(e)) ++sm_inbound_;
  if (e.name() != "iq") return false;
  auto type = e.attr("type");
  if (type != "get" && type != "set") return false;
  // RFC 6120 §8.2.3: every request gets an answer. Pings (XEP-0199) and roster pushes
  // (RFC 6121 §2.1.6) get a result; anything else service-unavailable.
  std::string id = xml_escape(e.attr("id").value_or(""));
  std::string to;
  if (auto from = e.attr("from")) to = " to='" + xml_escape(*from) + "'";
  bool ok = e.find_child("ping", "urn:xmpp:ping") != nullptr ||
            (type == "set" && e.find_child("query", "jabber:iq:roster") != nullptr);
  if (ok) {
    send("<iq type='result' id='" + id + "'" + to + "/>");
  } else {
    send("<iq type='error' id='" + id + "'" + to +
         "><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
  }
  return true;
}

asio::awaitable<void> Connection::read_loop() {
  for (;;) {
    while (!events_.empty() && !closed_) {
      Element e = std::move(events_.front());
      events_.pop_front();
      if (handle_internally(e)) continue;
      if (on_stanza && on_stanza(e)) continue;
      inbox_.push_back(std::move(e));
      wake();
    }
    if (closed_ || peer_closed_) break;
    bool ok = co_await read_more();
    (void)ok;
  }
  peer_closed_ = true;
  on_stanza = nullptr;  // it may hold state of the scenario; the connection may outlive it
  wake();
}

asio::awaitable<void> Connection::write_loop() {
  std::string batch;
  for (;;) {
    if (queue_.empty()) {
      if (closed_) break;
      wake_writer_.expires_at(Clock::time_point::max());
      co_await wake_writer_.async_wait(as_tuple(use_awaitable));
      continue;
    }
    batch.clear();
    while (!queue_.empty() && batch.size() < 64 * 1024) {
      batch += queue_.front();
      queue_.pop_front();
    }
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(batch), as_tuple(use_awaitable));
    if (ec) {
      drop();
      break;
    }
  }
}

asio::awaitable<std::optional<Element>> Connection::receive(Clock::time_point deadline) {
  for (;;) {
    if (!inbox_.empty()) {
      Element e = std::move(inbox_.front());
      inbox_.pop_front();
      co_return e;
    }
    if (closed_ || peer_closed_ || Clock::now() >= deadline) co_return std::nullopt;
    signal_.expires_at(deadline);
    co_await signal_.async_wait(as_tuple(use_awaitable));
  }
}

asio::awaitable<std::optional<Element>> Connection::iq(std::string request, std::string id, Clock::time_point deadline) {
  send(std::move(request));
  std::deque<Element> stash;
  std::optional<Element> found;
  for (;;) {
    auto e = co_await receive(deadline);
    if (!e) break;
    if (e->name() == "iq" && e->attr("id") == id) {
      auto type = e->attr("type");
      if (type == "result" || type == "error") {
        found = std::move(e);
        break;
      }
    }
    stash.push_back(std::move(*e));
  }
  for (auto it = stash.rbegin(); it != stash.rend(); ++it) inbox_.push_front(std::move(*it));
  co_return found;
}

asio::awaitable<bool> Connection::wait_acked(Clock::time_point deadline) {
  if (!sm_enabled_) co_return false;
  while (sm_acked_ < sm_outbound_ && !closed_ && !peer_closed_ && Clock::now() < deadline) {
    request_ack();
    signal_.expires_at(std::min(deadline, Clock::now() + std::chrono::milliseconds(500)));
    co_await signal_.async_wait(as_tuple(use_awaitable));
  }
  co_return sm_acked_ >= sm_outbound_;
}

asio::awaitable<void> Connection::close() {
  if (closed_) co_return;
  if (!background_) {
    drop();
    co_return;
  }
  send("</stream:stream>");
  // RFC 6120 §4.4: the server answers with its own close; wait for it, briefly.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (!peer_closed_ && !closed_ && Clock::now() < deadline) {
    signal_.expires_at(deadline);
    co_await signal_.async_wait(as_tuple(use_awaitable));
  }
  drop();
}

TlsSession Connection::tls_session() {
  SSL_SESSION* s = SSL_get1_session(stream_.native_handle());
  if (s == nullptr) return {};
  if (SSL_SESSION_is_resumable(s) != 1) {
    SSL_SESSION_free(s);
    return {};
  }
  return TlsSession(s, SSL_SESSION_free);
}

std::string Connection::tls_version() {
  const char* v = SSL_get_version(stream_.native_handle());
  return v ? v : "";
}

}  // namespace parley::bench
