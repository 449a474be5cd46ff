#include "tests/support/xmpp_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <stdexcept>

#include "server/crypto.hpp"
#include "server/sasl/scram.hpp"
#include "server/xml/serializer.hpp"

namespace parley::test {

using server::xml::Element;
using Clock = std::chrono::steady_clock;

class XmppClient::Sink final : public server::xml::StreamParser::Handler {
 public:
  explicit Sink(XmppClient& c) : c_(c) {}
  void on_stream_open(const server::xml::StreamHeader&) override {}
  void on_stanza(Element&& e) override {
    if (e.name() == "error" && e.ns() == "http://etherx.jabber.org/streams") {
      for (const auto& child : e.children()) {
        if (child.ns() == "urn:ietf:params:xml:ns:xmpp-streams" && child.name() != "text") {
          c_.stream_error_ = child.name();
        }
      }
    }
    c_.inbox_.push_back(std::move(e));
  }
  void on_stream_close() override { c_.closed_ = true; }
  void on_error(server::xml::StreamError e) override {
    c_.parse_error_ = e.condition + ": " + e.text;
    c_.closed_ = true;
  }

 private:
  XmppClient& c_;
};

XmppClient::XmppClient(ClientOptions options) : options_(std::move(options)) {
  // A server that hangs up must show as a closed stream, not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options_.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to port " + std::to_string(options_.port));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sink_ = std::make_unique<Sink>(*this);
  parser_ = std::make_unique<server::xml::StreamParser>(
      *sink_, std::string(options_.server_from.empty() ? server::xml::kClientNs : server::xml::kServerNs));
  if (options_.direct_tls && !handshake()) throw std::runtime_error("direct TLS handshake failed");
}

XmppClient::~XmppClient() {
  if (ssl_ != nullptr) {
    // Marked as closed properly (nothing is sent): OpenSSL would otherwise mark the session
    // not resumable, and tests resume sessions of clients that are gone.
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl_);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool XmppClient::handshake() {
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) != 1) return false;
  if (options_.max_tls_version != 0) SSL_CTX_set_max_proto_version(ctx_, options_.max_tls_version);
  if (options_.min_tls_version != 0) {
    // Let this client offer what OpenSSL's defaults forbid, to see the server refuse it.
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_min_proto_version(ctx_, options_.min_tls_version);
  }
  if (!options_.cipher_list.empty() && SSL_CTX_set_cipher_list(ctx_, options_.cipher_list.c_str()) != 1) return false;
  if (!options_.certificate.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx_, options_.certificate.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, options_.private_key.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return false;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, options_.domain.c_str());
  if (options_.resume != nullptr) SSL_set_session(ssl_, options_.resume);
  SSL_set1_host(ssl_, (options_.tls_name.empty() ? options_.domain : options_.tls_name).c_str());
  if (options_.direct_tls) {
    // XEP-0368: the same length for both names.
    static const unsigned char kClient[] = "\x0bxmpp-client";
    static const unsigned char kServer[] = "\x0bxmpp-server";
    SSL_set_alpn_protos(ssl_, options_.server_from.empty() ? kClient : kServer, sizeof kClient - 1);
  }
  return SSL_connect(ssl_) == 1;
}

void XmppClient::write_all(std::string_view data) {
  while (!data.empty()) {
    long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      closed_ = true;
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void XmppClient::send(std::string_view xml) { write_all(xml); }

bool XmppClient::read_some(Clock::time_point deadline) {
  char buf[16384];
  if (!ssl_ || SSL_pending(ssl_) == 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left, 0))) <= 0) return false;
  }
  long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    if (ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_READ) return true;
    closed_ = true;
    return false;
  }
  parser_->feed(std::string_view(buf, static_cast<std::size_t>(n)));
  return true;
}

std::optional<Element> XmppClient::receive(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (inbox_.empty() && !closed_) {
    if (!read_some(deadline) && Clock::now() >= deadline) break;
  }
  if (inbox_.empty()) return std::nullopt;
  Element e = std::move(inbox_.front());
  inbox_.pop_front();
  return e;
}

std::optional<Element> XmppClient::receive_named(std::string_view name, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto e = receive(left);
    if (!e) return std::nullopt;
    if (e->name() == name) return e;
  }
}

bool XmppClient::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!closed_ && Clock::now() < deadline) read_some(deadline);
  return closed_;
}

std::optional<Element> XmppClient::open_stream(std::string_view to) {
  std::string domain = to.empty() ? options_.domain : std::string(to);
  if (!options_.server_from.empty()) {
    send("<?xml version='1.0'?><stream:stream to='" + domain + "' from='" + options_.server_from +
         "' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>");
    return receive_named("features");
  }
  send("<?xml version='1.0'?><stream:stream to='" + domain +
       "' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  return receive_named("features");
}

std::optional<Element> XmppClient::starttls() {
  send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  auto proceed = receive();
  if (!proceed || proceed->name() != "proceed") return std::nullopt;
  if (!handshake()) return std::nullopt;
  parser_->reset();
  return open_stream();
}

std::optional<Element> XmppClient::connect_tls() {
  if (options_.direct_tls) return open_stream();
  if (!open_stream()) return std::nullopt;
  return starttls();
}

std::string XmppClient::channel_binding(std::string_view type) const {
  std::string out;
  if (type == "tls-exporter") {
    out.resize(32);
    static const char kLabel[] = "EXPORTER-Channel-Binding";
    SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(out.data()), 32, kLabel,
                               sizeof kLabel - 1, nullptr, 0, 0);
  } else if (type == "tls-unique") {
    // RFC 5929 §3.1: the first Finished of the handshake: ours on a full one, the server's
    // on a resumed one.
    unsigned char buf[64];
    std::size_t n = SSL_session_reused(ssl_) ? SSL_get_peer_finished(ssl_, buf, sizeof buf)
                                             : SSL_get_finished(ssl_, buf, sizeof buf);
    out.assign(reinterpret_cast<char*>(buf), n);
  }
  return out;
}

std::string XmppClient::authenticate(const std::string& mechanism, const std::string& user,
                                     const std::string& password) {
  namespace crypto = server::crypto;
  const std::string ns = "urn:ietf:params:xml:ns:xmpp-sasl";
  auto failure_of = [](const Element& e) -> std::string {
    for (const auto& c : e.children()) return c.name();
    return "failure";
  };
  if (mechanism == "PLAIN") {
    send("<auth xmlns='" + ns + "' mechanism='PLAIN'>" +
         crypto::base64_encode(std::string("\0", 1) + user + std::string("\0", 1) + password) + "</auth>");
    auto r = receive();
    if (!r) return "timeout";
    return r->name() == "success" ? "" : failure_of(*r);
  }
  auto hash = mechanism.starts_with("SCRAM-SHA-256") ? crypto::Hash::sha256 : crypto::Hash::sha1;
  server::sasl::ScramClientOptions opts;
  if (mechanism.ends_with("-PLUS")) {
    std::string type = SSL_version(ssl_) >= TLS1_3_VERSION ? "tls-exporter" : "tls-unique";
    opts.channel_binding = server::sasl::ClientChannelBinding{type, channel_binding(type)};
  }
  server::sasl::ScramClient scram(hash, user, password, opts);
  send("<auth xmlns='" + ns + "' mechanism='" + mechanism + "'>" + crypto::base64_encode(scram.first()) + "</auth>");
  auto challenge = receive();
  if (!challenge) return "timeout";
  if (challenge->name() != "challenge") return failure_of(*challenge);
  auto server_first = crypto::base64_decode(challenge->text());
  auto final = server_first ? scram.final(*server_first) : std::nullopt;
  if (!final) return "bad-challenge";
  send("<response xmlns='" + ns + "'>" + crypto::base64_encode(*final) + "</response>");
  auto outcome = receive();
  if (!outcome) return "timeout";
  if (outcome->name() != "success") return failure_of(*outcome);
  auto server_final = crypto::base64_decode(outcome->text());
  if (!server_final || !scram.verify(*server_final)) return "server-not-verified";
  return "";
}

std::optional<Element> XmppClient::restart_stream() {
  parser_->reset();
  return open_stream();
}

std::string XmppClient::bind(const std::string& resource) {
  std::string iq = "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>";
  if (!resource.empty()) iq += "<resource>" + resource + "</resource>";
  send(iq + "</bind></iq>");
  auto r = receive_named("iq");
  if (!r || r->attr("type") != "result") return "";
  auto* b = r->find_child("bind", "urn:ietf:params:xml:ns:xmpp-bind");
  auto* j = b ? b->find_child("jid", "urn:ietf:params:xml:ns:xmpp-bind") : nullptr;
  jid_ = j ? j->text() : "";
  return jid_;
}

std::string XmppClient::login(const std::string& user, const std::string& password,
                              const std::string& resource, const std::string& mechanism) {
  if (!connect_tls()) return "";
  if (!authenticate(mechanism, user, password).empty()) return "";
  if (!restart_stream()) return "";
  return bind(resource);
}

Element parse_xml(std::string_view xml) {
  struct One final : server::xml::StreamParser::Handler {
    std::optional<Element> got;
    std::string error;
    void on_stream_open(const server::xml::StreamHeader&) override {}
    void on_stanza(Element&& e) override { got = std::move(e); }
    void on_stream_close() override {}
    void on_error(server::xml::StreamError e) override { error = e.condition; }
  } one;
  server::xml::StreamParser p(one);
  p.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  p.feed(xml);
  if (!one.got) throw std::runtime_error("parse_xml: " + one.error);
  return std::move(*one.got);
}

namespace {
constexpr std::string_view kStanzaNs = "urn:ietf:params:xml:ns:xmpp-stanzas";
}  // namespace

std::string error_condition(const Element& stanza) {
  if (stanza.attr("type") != "error") return "";
  auto* error = stanza.find_child("error", stanza.ns());
  if (error == nullptr) return "";
  for (const auto& c : error->children()) {
    if (c.ns() == kStanzaNs && c.name() != "text") return c.name();
  }
  return "";
}

std::string error_text(const Element& stanza) {
  auto* error = stanza.find_child("error", stanza.ns());
  auto* text = error ? error->find_child("text", kStanzaNs) : nullptr;
  return text ? text->text() : "";
}

std::string body(const Element& message) {
  auto* b = message.find_child("body", "jabber:client");
  return b ? b->text() : "";
}

}  // namespace parley::test
