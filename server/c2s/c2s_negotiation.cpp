// The protocol half of a client session: stream headers and features (RFC 6120 §4.3),
// STARTTLS (§5), SASL (§6), resource binding (§7), and handing stanzas to the router.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/c2s/c2s_session.hpp"
#include "server/log.hpp"
#include "server/sasl/plain.hpp"
#include "server/xml/serializer.hpp"

namespace asio = boost::asio;

namespace parley::server::c2s {
namespace {

constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNs = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kSessionNs = "urn:ietf:params:xml:ns:xmpp-session";
constexpr std::string_view kSaslCbNs = "urn:xmpp:sasl-cb:0";

std::string escaped_attr(std::string_view v) {
  std::string out;
  xml::append_escaped_attr(out, v);
  return out;
}

std::string escaped_text(std::string_view v) {
  std::string out;
  xml::append_escaped_text(out, v);
  return out;
}

std::string random_id() {
  std::string id = crypto::base64_encode(crypto::random_bytes(12));
  for (char& c : id) {
    if (c == '+' || c == '/') c = 'x';
  }
  return id;
}

std::string sasl_element(std::string_view name, std::string_view payload) {
  std::string out = "<" + std::string(name) + " xmlns='" + std::string(kSaslNs) + "'>";
  // RFC 6120 §6.4.2: an empty payload is sent as "=".
  out += payload.empty() ? std::string("=") : crypto::base64_encode(payload);
  return out + "</" + std::string(name) + ">";
}

// The base64 payload of <auth/> or <response/>: nullopt if it is not valid base64.
std::optional<std::string> sasl_payload(const xml::Element& e) {
  std::string text = e.text();
  if (text.empty() || text == "=") return std::string();
  return crypto::base64_decode(text);
}

}  // namespace

std::string C2sSession::features() const {
  std::string f = "<stream:features>";
  if (!tls_) {
    // RFC 6120 §5.3.1: STARTTLS is mandatory to negotiate; nothing else is offered before it.
    f += "<starttls xmlns='" + std::string(kTlsNs) + "'><required/></starttls>";
  } else if (!account_) {
    f += "<mechanisms xmlns='" + std::string(kSaslNs) + "'>";
    SSL* ssl = const_cast<Stream&>(stream_).native_handle();
    bool cb = channel_binding_available();
    for (auto m : sasl::offered(true, cb)) f += "<mechanism>" + std::string(sasl::name(m)) + "</mechanism>";
    f += "</mechanisms>";
    if (cb) {
      // XEP-0440: which channel-binding types this connection supports.
      f += "<sasl-channel-binding xmlns='" + std::string(kSaslCbNs) + "'>";
      if (net::is_tls13(ssl)) {
        f += "<channel-binding type='tls-exporter'/>";
      } else {
        f += "<channel-binding type='tls-unique'/>";
      }
      f += "</sasl-channel-binding>";
    }
    if (auto* host = services_.router.find_host(domain_)) {
      for (const auto& feature : host->stream_features(true)) f += feature;
    }
  } else {
    f += "<bind xmlns='" + std::string(kBindNs) + "'/>";
    if (auto* host = services_.router.find_host(domain_)) {
      for (const auto& feature : host->stream_features(false)) f += feature;
    }
    // RFC 6121 (old) session establishment, advertised as optional for old clients.
    f += "<session xmlns='" + std::string(kSessionNs) + "'><optional/></session>";
  }
  return f + "</stream:features>";
}

bool C2sSession::channel_binding_available() const {
  SSL* ssl = const_cast<Stream&>(stream_).native_handle();
  // After a TLS 1.3 handshake the exporter is always there: no need to derive it (an HKDF
  // on every login) just to know it can be.
  if (!SSL_is_init_finished(ssl)) return false;
  return net::is_tls13(ssl) || net::tls_unique(ssl).has_value();
}

sasl::ChannelBindingInfo C2sSession::channel_binding_info() const {
  sasl::ChannelBindingInfo info;
  SSL* ssl = const_cast<Stream&>(stream_).native_handle();
  // RFC 5802 §6: a "y" flag (the client can bind but thinks we cannot) is a downgrade when
  // we offered -PLUS. On TLS 1.2 every binding client knows tls-unique, so "y" is refused.
  // On TLS 1.3 only tls-exporter exists (RFC 9266), which many deployed clients (slixmpp
  // 1.8, hence poezio) do not implement yet: for them "y" is honest, and refusing it would
  // lock them out. So "y" is accepted on TLS 1.3; clients that implement tls-exporter see
  // it in XEP-0440's <sasl-channel-binding/> and use -PLUS.
  info.server_supports_plus = channel_binding_available() && !net::is_tls13(ssl);
  if (net::is_tls13(ssl)) {
    info.types = {std::string(sasl::kTlsExporter)};
  } else {
    info.types = {std::string(sasl::kTlsUnique)};
  }
  info.data = [ssl](std::string_view type) -> std::optional<std::string> {
    if (type == sasl::kTlsExporter) return net::tls_exporter(ssl);
    if (type == sasl::kTlsUnique) return net::tls_unique(ssl);
    return std::nullopt;
  };
  return info;
}

asio::awaitable<void> C2sSession::on_header(const xml::StreamHeader& header) {
  auto domain = normalize_domain(header.to);
  bool known = domain && services_.config.find_host(*domain) != nullptr;
  std::string reply = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams' id='" + random_id() +
                      "' version='1.0' xml:lang='en'";
  if (known) reply += " from='" + *domain + "'";
  reply += ">";
  header_sent_ = true;
  // Through the writer when it runs already (a stream restarted after a resumption): one
  // TLS write in flight at a time.
  if (!known) {
    // RFC 6120 §4.9.3.6: a 'to' we do not serve.
    co_await write_negotiation(std::move(reply));
    co_await finish("host-unknown");
    co_return;
  }
  if (!domain_.empty() && *domain != domain_) {
    co_await write_negotiation(std::move(reply));
    co_await finish("not-authorized", "the host changed between stream restarts");
    co_return;
  }
  if (header.version != "1.0") {
    co_await write_negotiation(std::move(reply));
    co_await finish("unsupported-version");
    co_return;
  }
  domain_ = *domain;
  reply += features();
  co_await write_negotiation(std::move(reply));
  deadline_in(services_.limits.negotiation_timeout);
}

asio::awaitable<void> C2sSession::on_element(xml::Element e) {
  if (superseded_) co_return;  // XEP-0198: the session was resumed on another connection
  if (!bound_) deadline_in(services_.limits.negotiation_timeout);
  if (domain_.empty()) {
    co_await finish("not-well-formed", "no stream header");
    co_return;
  }
  if (!tls_) {
    if (e.name() == "starttls" && e.ns() == kTlsNs) {
      co_await on_starttls();
    } else if (e.name() == "auth" && e.ns() == kSaslNs) {
      // RFC 6120 §6.4.2 / §13.8: no authentication in the clear.
      std::string failure = "<failure xmlns='" + std::string(kSaslNs) + "'><encryption-required/></failure>";
      co_await write_now(std::move(failure));
      co_await finish("policy-violation", "STARTTLS is required before authentication");
    } else {
      co_await finish("not-authorized", "STARTTLS is required");
    }
    co_return;
  }
  if (!account_) {
    if (e.ns() == kSaslNs && e.name() == "auth") {
      co_await on_auth(e);
    } else if (e.ns() == kSaslNs && e.name() == "response" && scram_) {
      co_await on_response(e);
    } else if (e.ns() == kSaslNs && e.name() == "abort") {
      scram_.reset();
      co_await sasl_failure(sasl::SaslFailure::aborted);
    } else {
      bool handled = e.name() == "iq" && e.ns() == kClientNs;
      if (handled) handled = co_await on_preauth_iq(std::move(e));
      if (!handled) co_await finish("not-authorized", "authenticate first");
    }
    co_return;
  }
  if (e.ns() != kClientNs) {
    // Top-level elements of an extension (XEP-0198 stream management), before or after bind.
    auto* host = services_.router.find_host(domain_);
    const StreamElementHandler* handler = host ? host->find_stream_handler(e.ns()) : nullptr;
    if (handler != nullptr) {
      co_await (*handler)(e, *this);
      co_return;
    }
  }
  if (!bound_) {
    auto* bind = e.find_child("bind", kBindNs);
    if (e.name() == "iq" && e.attr("type") == "set" && bind != nullptr) {
      co_await on_bind(e);
    } else {
      co_await finish("not-authorized", "bind a resource first");
    }
    co_return;
  }
  co_await on_stanza(std::move(e));
}

namespace {

// Collects what preauth handlers answer, for the session to write once they are done.
class PreauthReplies final : public UnauthenticatedClient {
 public:
  explicit PreauthReplies(std::string_view address) : address_(address) {}
  std::string_view remote_address() const override { return address_; }
  void reply(Stanza stanza) override { out += xml::serialize(stanza.element, kClientNs); }
  std::string out;

 private:
  std::string_view address_;
};

}  // namespace

// An iq before authentication (over TLS): handed to the host's preauth handlers, e.g.
// XEP-0077 registration. A bounded number per connection; what no module takes is refused
// as before (the caller ends the stream).
asio::awaitable<bool> C2sSession::on_preauth_iq(xml::Element e) {
  constexpr int kMaxPreauthIqs = 10;
  if (++preauth_iqs_ > kMaxPreauthIqs) co_return false;
  auto stanza = make_stanza(std::move(e));
  if (!stanza || !stanza->is_request()) co_return false;
  PreauthReplies replies(remote_address_);
  bool handled = co_await services_.router.route_preauth(*stanza, replies, domain_);
  if (!replies.out.empty()) co_await write_now(std::move(replies.out));
  co_return handled;
}

asio::awaitable<void> C2sSession::on_starttls() {
  std::string proceed = "<proceed xmlns='" + std::string(kTlsNs) + "'/>";
  co_await write_now(std::move(proceed));
  // Anything the client sent after <starttls/> in the clear is discarded (RFC 6120 §5.4.3.3).
  events_.clear();
  // GCC 12 miscompiles co_await inside a condition: await into a variable first.
  bool secured = co_await handshake();
  if (!secured) {
    closing_ = true;
    shutdown_socket();
    co_return;
  }
  parser_->reset();
  header_sent_ = false;
}

asio::awaitable<void> C2sSession::on_auth(const xml::Element& auth) {
  auto mechanism = sasl::mechanism_from_name(auth.attr("mechanism").value_or(""));
  auto offered = sasl::offered(true, channel_binding_available());
  if (!mechanism || std::find(offered.begin(), offered.end(), *mechanism) == offered.end()) {
    co_await sasl_failure(sasl::SaslFailure::invalid_mechanism);
    co_return;
  }
  auto payload = sasl_payload(auth);
  if (!payload) {
    co_await sasl_failure(sasl::SaslFailure::incorrect_encoding);
    co_return;
  }
  auto lookup = [this](std::string_view username, crypto::Hash hash) -> asio::awaitable<std::optional<std::pair<Jid, ScramLookup>>> {
    auto local = normalize_localpart(username);
    std::optional<Jid> jid = local ? Jid::make(*local, domain_) : std::nullopt;
    if (!jid) {
      // Not a valid user name, so no account: the same exchange as for an unknown one.
      std::string name = std::string(username) + "@" + domain_;
      co_return std::pair{*Jid::make("", domain_), services_.accounts.unknown_account(name, hash)};
    }
    auto query = [this, j = *jid, hash] { return services_.accounts.scram_lookup(j, hash); };
    auto r = co_await services_.storage.execute(std::move(query));
    if (!r.ok()) {
      log::warning("c2s {}: credential lookup failed: {}", remote_address_, r.error().message);
      co_return std::nullopt;
    }
    co_return std::pair{*jid, std::move(r.value())};
  };

  if (*mechanism == sasl::Mechanism::plain) {
    sasl::PlainServer plain;
    auto req = plain.parse(*payload);
    if (!req.ok()) {
      co_await sasl_failure(*req.failure);
      co_return;
    }
    co_await slow_down(req.authcid);
    auto found = co_await lookup(req.authcid, crypto::Hash::sha256);
    if (!found) {
      co_await sasl_failure(sasl::SaslFailure::temporary_auth_failure);
      co_return;
    }
    if (found->first.has_local()) attempted_account_ = found->first;
    auto result = plain.verify(found->second);
    if (result.ok() && req.authzid && *req.authzid != found->first.str()) {
      co_await sasl_failure(sasl::SaslFailure::invalid_authzid);
    } else if (result.ok() && found->first.has_local()) {
      co_await sasl_success(found->first, {});
    } else {
      co_await sasl_failure(sasl::SaslFailure::not_authorized, true);
    }
    co_return;
  }

  auto hash = *sasl::scram_hash(*mechanism);
  scram_ = std::make_unique<sasl::ScramServer>(hash, sasl::is_plus(*mechanism), channel_binding_info());
  auto first = scram_->first(*payload);
  if (!first.ok()) {
    scram_.reset();
    co_await sasl_failure(*first.failure);
    co_return;
  }
  co_await slow_down(first.username);
  auto found = co_await lookup(first.username, hash);
  if (!found) {
    scram_.reset();
    co_await sasl_failure(sasl::SaslFailure::temporary_auth_failure);
    co_return;
  }
  if (first.authzid && *first.authzid != found->first.str()) {
    scram_.reset();
    co_await sasl_failure(sasl::SaslFailure::invalid_authzid);
    co_return;
  }
  account_candidate_ = found->first;
  if (found->first.has_local()) attempted_account_ = found->first;
  std::string server_first = scram_->server_first(found->second);
  std::string challenge = sasl_element("challenge", server_first);
  co_await write_now(std::move(challenge));
}

asio::awaitable<void> C2sSession::on_response(const xml::Element& response) {
  auto payload = sasl_payload(response);
  if (!payload) {
    scram_.reset();
    co_await sasl_failure(sasl::SaslFailure::incorrect_encoding);
    co_return;
  }
  auto result = scram_->final(*payload);
  scram_.reset();
  if (!result.ok() || !account_candidate_ || !account_candidate_->has_local()) {
    co_await sasl_failure(result.ok() ? sasl::SaslFailure::not_authorized : *result.failure, true);
    co_return;
  }
  co_await sasl_success(*account_candidate_, result.server_final);
}

// `checked_credentials`: the exchange got as far as checking a password or proof. Only those
// failures count towards [limits] auth_attempts: a client trying mechanisms or channel
// bindings it cannot complete has guessed nothing.
asio::awaitable<void> C2sSession::sasl_failure(sasl::SaslFailure failure, bool checked_credentials) {
  account_candidate_.reset();
  std::string answer = "<failure xmlns='" + std::string(kSaslNs) + "'><" +
                       std::string(sasl::failure_condition(failure)) + "/></failure>";
  co_await write_now(std::move(answer));
  if (checked_credentials) {
    log::info("c2s {}: authentication failed", remote_address_);
    services_.throttle.failed(remote_address_, attempted_);
    if (attempted_account_) record_signin(*attempted_account_, {}, false);
    // RFC 6120 §6.4.5: a few retries, then the stream ends.
    if (++failed_auths_ >= services_.limits.auth_attempts) {
      co_await finish("policy-violation", "too many failed authentication attempts");
    }
  }
}

// The login throttle (server/login_throttle.hpp): after repeated failures from this address
// or for this account, wait before checking the credentials. The same for an account that
// does not exist, so the delay reveals nothing.
asio::awaitable<void> C2sSession::slow_down(std::string_view username) {
  auto local = normalize_localpart(username);
  attempted_ = (local ? *local : std::string(username)) + "@" + domain_;
  attempted_account_.reset();
  auto delay = services_.throttle.delay(remote_address_, attempted_);
  if (delay.count() == 0) co_return;
  log::info("c2s {}: earlier failed logins: waiting {} ms", remote_address_, delay.count());
  deadline_in(std::chrono::duration_cast<std::chrono::seconds>(delay) + services_.limits.negotiation_timeout);
  asio::steady_timer wait(stream_.get_executor(), delay);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
}

void C2sSession::record_signin(const Jid& account, std::string resource, bool success) {
  services_.signins.record(Signin{account, remote_address_, std::move(resource), success});
}

asio::awaitable<void> C2sSession::sasl_success(const Jid& account, std::string_view server_final) {
  // RFC 6120 §6.4.6: with SCRAM the success carries the server-final message.
  std::string s = "<success xmlns='" + std::string(kSaslNs) + "'";
  s += server_final.empty() ? std::string("/>") : ">" + crypto::base64_encode(server_final) + "</success>";
  co_await write_now(std::move(s));
  account_ = account;
  services_.throttle.succeeded(attempted_);
  log::info("c2s {}: authenticated as {}", remote_address_, account.str());
  // The stream restarts; whatever followed <success/> belongs to no stream.
  events_.clear();
  parser_->reset();
  header_sent_ = false;
}

asio::awaitable<void> C2sSession::on_bind(const xml::Element& iq) {
  std::string id(iq.attr("id").value_or(""));
  const xml::Element* bind = iq.find_child("bind", kBindNs);
  const xml::Element* res = bind->find_child("resource", kBindNs);
  std::string resource = res ? res->text() : std::string();
  std::optional<Jid> full;
  if (resource.empty()) {
    full = Jid::make(account_->local(), account_->domain(), "parley-" + random_id());
  } else {
    full = Jid::make(account_->local(), account_->domain(), resource);
    if (!full) {
      // RFC 6120 §7.7.2.1: a resource that cannot be prepared.
      std::string error = "<iq type='error' id='" + escaped_attr(id) + "'><error type='modify'>"
                         "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
      co_await write_negotiation(std::move(error));
      co_return;
    }
  }
  // RFC 6120 §7.6.2.1: too many resources for the account ([limits] max_sessions_per_account).
  auto existing = services_.router.sessions().of_account(account_->bare());
  bool replaces = std::any_of(existing.begin(), existing.end(), [&](const auto& s) { return s->jid() == *full; });
  if (!replaces && existing.size() >= services_.limits.max_sessions_per_account) {
    log::info("c2s {}: {} has {} sessions already", remote_address_, account_->str(), existing.size());
    std::string error = "<iq type='error' id='" + escaped_attr(id) + "'><error type='wait'>"
                        "<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
    co_await write_negotiation(std::move(error));
    co_return;
  }
  jid_ = *full;
  auto self = shared_from_this();
  if (auto replaced = services_.router.sessions().bind(self)) {
    // RFC 6120 §7.7.2.2: the newer session wins; the older one ends with <conflict/>.
    replaced->close("conflict");
  }
  bound_ = true;
  parser_->set_release_when_idle(true);
  deadline_in(services_.limits.idle_timeout);
  start_writer();
  enqueue("<iq type='result' id='" + escaped_attr(id) + "'><bind xmlns='" + std::string(kBindNs) +
          "'><jid>" + escaped_text(jid_->str()) + "</jid></bind></iq>");
  log::info("c2s {}: bound {}", remote_address_, jid_->str());
  record_signin(account_->bare(), std::string(jid_->resource()), true);
  services_.router.session_event(router::Family::session_bound, self);
}

asio::awaitable<void> C2sSession::on_stanza(xml::Element e) {
  // Stream management counts what the client sent (XEP-0198 §4); `handled` is released when
  // the stanza has been routed and made durable, or refused below.
  std::shared_ptr<void> handled;
  if (hooks_ && e.ns() == kClientNs) handled = hooks_->stanza_received();
  if (e.name() == "iq" && e.attr("type") == "set" && e.find_child("session", kSessionNs) != nullptr) {
    // Old-style session establishment: nothing to do but say yes.
    xml::Element result("iq", std::string(kClientNs));
    result.set_attr("type", "result");
    result.set_attr("id", std::string(e.attr("id").value_or("")));
    reply(Stanza{std::move(result), StanzaKind::iq, "result", std::nullopt, std::nullopt});
    co_return;
  }
  std::string name = e.name(), id(e.attr("id").value_or("")), type(e.attr("type").value_or(""));
  bool bad_jid = false;
  auto stanza = make_stanza(std::move(e), &bad_jid);
  if (!stanza) {
    if (!bad_jid) {
      // RFC 6120 §4.9.3.21: not a message, presence or iq of jabber:client.
      co_await finish("unsupported-stanza-type");
    } else if (type != "error") {
      // RFC 6120 §8.3.3.8: an address that cannot be prepared.
      xml::Element error(name, std::string(kClientNs));
      error.set_attr("type", "error");
      error.set_attr("id", id);
      auto& child = error.add_child("error", std::string(kClientNs));
      child.set_attr("type", "modify");
      child.add_child("jid-malformed", std::string(kStanzaErrorNs));
      StanzaKind kind = name == "iq" ? StanzaKind::iq : name == "presence" ? StanzaKind::presence : StanzaKind::message;
      reply(Stanza{std::move(error), kind, "error", std::nullopt, std::nullopt});
    }
    co_return;
  }
  // A resumed connection speaks for the session it carries.
  std::shared_ptr<ClientSession> origin = root_;
  if (!origin) origin = shared_from_this();
  co_await services_.router.route_from_client(std::move(*stanza), std::move(origin), std::move(handled));
}

// A reply the connection itself makes to what the client sent: delivered like any stanza to
// the session (stanza/out, and stream management counts it: XEP-0198 §4), through the
// session this connection carries when it resumed one.
void C2sSession::reply(Stanza stanza) {
  if (root_) {
    root_->send(std::move(stanza));
  } else {
    deliver(std::move(stanza));
  }
}

}  // namespace parley::server::c2s
