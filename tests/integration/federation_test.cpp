// Federation between two `parley serve` processes (a.test and b.test, certificates from one
// test CA, static routes on loopback), written as transcripts: messages both ways, a
// subscription with presence, an offline message from a remote sender; and what must be
// refused: a certificate for another domain (both directions), a stanza from a domain the
// stream did not authenticate, a denied domain, and a domain that does not answer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/xml/serializer.hpp"
#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const std::vector<std::string> kModules{"message", "disco", "ping", "roster", "presence", "offline", "mam"};

std::string route(const std::string& domain, std::uint16_t port) {
  return "\"" + domain + "\" = \"127.0.0.1:" + std::to_string(port) + "\"\n";
}

// One test CA that every server of a test shares, so that they can trust each other.
class SharedCa {
 public:
  SharedCa() {
    auto r = parley({"cert", "dev", "--out", dir_.path(), "--domain", "c.test"});
    if (r.exit_code != 0) throw std::runtime_error("cert dev failed: " + r.err);
  }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
};

TestServerOptions server_options(const SharedCa& ca, std::vector<std::string> domains, std::uint16_t s2s_port,
                                 std::string federation, std::vector<std::string> modules = kModules) {
  TestServerOptions o;
  o.domains = std::move(domains);
  o.modules = std::move(modules);
  o.ca_from = ca.dir();
  o.s2s_port = s2s_port;
  o.federation = true;
  o.extra_config = "[federation]\nconnect_timeout = 5\n" + std::move(federation);
  return o;
}

// a.test and b.test, each with a route to the other.
struct TwoDomains {
  explicit TwoDomains(std::string a_extra = {}, std::string b_extra = {})
      : a_port(free_port()),
        b_port(free_port()),
        a(server_options(ca, {"a.test"}, a_port, a_extra + "[federation.routes]\n" + route("b.test", b_port))),
        b(server_options(ca, {"b.test"}, b_port, b_extra + "[federation.routes]\n" + route("a.test", a_port))) {
    a.add_user("alice@a.test", "alice-pw");
    b.add_user("bob@b.test", "bob-pw");
  }
  std::unique_ptr<XmppClient> alice() { return a.login("alice", "alice-pw", "phone", "a.test"); }
  std::unique_ptr<XmppClient> bob() { return b.login("bob", "bob-pw", "laptop", "b.test"); }

  SharedCa ca;
  std::uint16_t a_port, b_port;
  TestServer a, b;
};

// Sends a ping to `domain` and waits for its answer, keeping what arrived before it: over
// federation the answer comes back after everything sent earlier on the same link.
std::vector<Element> ping_through(XmppClient& c, const std::string& domain, std::string_view id) {
  c.send("<iq type='get' id='" + std::string(id) + "' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::vector<Element> before;
  for (;;) {
    auto e = c.receive(15s);
    if (!e) {
      ADD_FAILURE() << "no answer to the ping through " << domain;
      return before;
    }
    if (e->name() == "iq" && e->attr("id") == id) {
      EXPECT_EQ(e->attr("type"), "result");
      return before;
    }
    before.push_back(std::move(*e));
  }
}

// The bodies in the account's archive (XEP-0313) of the conversation with `with`.
std::vector<std::string> archived_bodies(XmppClient& c, const std::string& with) {
  c.send("<iq type='set' id='mam-q'><query xmlns='urn:xmpp:mam:2' queryid='mq'><x xmlns='jabber:x:data' type='submit'>"
         "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"
         "<field var='with'><value>" + with + "</value></field></x></query></iq>");
  std::vector<std::string> bodies;
  for (;;) {
    auto e = c.receive(15s);
    if (!e) {
      ADD_FAILURE() << "no answer to the archive query";
      return bodies;
    }
    if (e->name() == "iq" && e->attr("id") == "mam-q") return bodies;
    auto* result = e->find_child("result", "urn:xmpp:mam:2");
    auto* forwarded = result ? result->find_child("forwarded", "urn:xmpp:forward:0") : nullptr;
    auto* inner = forwarded ? forwarded->find_child("message", "jabber:client") : nullptr;
    if (inner != nullptr) bodies.push_back(body(*inner));
  }
}

TEST(Federation, MessagesBothWays) {
  TwoDomains t;
  auto alice = t.alice();
  auto bob = t.bob();
  alice->send("<presence/>");
  bob->send("<presence/>");

  alice->send("<message to='bob@b.test/laptop' type='chat' id='m1'><body>hello from a.test</body></message>");
  auto m = bob->receive_named("message", 15s);
  ASSERT_TRUE(m) << t.a.process().stderr_text() << "\n---\n" << t.b.process().stderr_text() << bob->stream_error();
  EXPECT_EQ(m->attr("from"), "alice@a.test/phone");
  EXPECT_EQ(m->attr("to"), "bob@b.test/laptop");
  EXPECT_EQ(body(*m), "hello from a.test");

  // Back over the link b.test opens, to the bare JID.
  bob->send("<message to='alice@a.test' type='chat' id='m2'><body>hello from b.test</body></message>");
  auto r = alice->receive_named("message", 15s);
  ASSERT_TRUE(r) << t.b.process().stderr_text();
  EXPECT_EQ(r->attr("from"), "bob@b.test/laptop");
  EXPECT_EQ(body(*r), "hello from b.test");

  // An iq to the remote server is answered across the link.
  ping_through(*alice, "b.test", "ping-1");

  // Each side's archive (XEP-0313) holds the conversation with the other domain.
  const std::vector<std::string> conversation{"hello from a.test", "hello from b.test"};
  EXPECT_EQ(archived_bodies(*alice, "bob@b.test"), conversation);
  EXPECT_EQ(archived_bodies(*bob, "alice@a.test"), conversation);
  // One TCP connection carried both directions (XEP-0288): b.test answered over the
  // connection a.test opened and never dialled a.test itself.
  const std::string& a_log = t.a.process().stderr_text();
  const std::string& b_log = t.b.process().stderr_text();
  EXPECT_NE(a_log.find("s2s a.test -> b.test: authenticated with SASL EXTERNAL (bidirectional)"), std::string::npos)
      << a_log;
  EXPECT_NE(b_log.find("authenticated as a.test with SASL EXTERNAL (bidirectional)"), std::string::npos) << b_log;
  EXPECT_NE(b_log.find("s2s b.test -> a.test (over its connection, XEP-0288): ready"), std::string::npos) << b_log;
  EXPECT_EQ(b_log.find("s2s b.test -> a.test: authenticated"), std::string::npos) << b_log;
  EXPECT_EQ(a_log.find("s2s in"), std::string::npos) << a_log;
}

TEST(Federation, SubscriptionAndPresence) {
  TwoDomains t;
  auto alice = t.alice();
  auto bob = t.bob();
  // Alice asks for her roster, so that she is sent roster pushes (RFC 6121 §2.1.6).
  alice->send("<iq type='get' id='roster-1'><query xmlns='jabber:iq:roster'/></iq>");
  alice->send("<presence/>");
  bob->send("<presence/>");
  ping_through(*alice, "a.test", "settle-a");
  ping_through(*bob, "b.test", "settle-b");

  alice->send("<presence to='bob@b.test' type='subscribe'/>");
  auto request = bob->receive_named("presence", 15s);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->attr("type"), "subscribe");
  EXPECT_EQ(request->attr("from"), "alice@a.test");

  bob->send("<presence to='alice@a.test' type='subscribed'/>");
  // Alice's roster now says 'to', and bob's presence arrives (RFC 6121 §3.1.5, §3.1.6).
  bool pushed = false, online = false;
  std::string seen;
  for (int i = 0; i < 6 && !(pushed && online); ++i) {
    auto e = alice->receive(15s);
    ASSERT_TRUE(e) << "pushed=" << pushed << " online=" << online << "\n" << t.a.process().stderr_text()
                   << "\n---\n" << t.b.process().stderr_text() << seen;
    seen += server::xml::serialize(*e) + "\n";
    if (e->name() == "iq" && e->attr("type") == "set") {
      auto* query = e->find_child("query", "jabber:iq:roster");
      auto* item = query ? query->find_child("item", "jabber:iq:roster") : nullptr;
      if (item && item->attr("jid") == "bob@b.test" && item->attr("subscription") == "to") pushed = true;
      alice->send("<iq type='result' id='" + std::string(e->attr("id").value_or("")) + "'/>");
    }
    if (e->name() == "presence" && e->attr("from") == "bob@b.test/laptop" && !e->attr("type")) online = true;
  }
  EXPECT_TRUE(pushed);
  EXPECT_TRUE(online);

  // Alice's next login probes bob across the link (RFC 6121 §4.3) and learns he is online.
  auto alice2 = t.a.login("alice", "alice-pw", "tablet", "a.test");
  alice2->send("<presence/>");
  bool probed = false;
  for (int i = 0; i < 5 && !probed; ++i) {
    auto e = alice2->receive_named("presence", 15s);
    ASSERT_TRUE(e) << "no presence of bob after the probe";
    probed = e->attr("from") == "bob@b.test/laptop" && !e->attr("type");
  }
  EXPECT_TRUE(probed);

  // Bob going offline reaches alice as unavailable presence.
  bob->send("<presence type='unavailable'/>");
  std::optional<Element> gone;
  do {  // (her other resource's presence, and the answer to its probe, may come first)
    gone = alice->receive_named("presence", 15s);
  } while (gone && (gone->attr("from") != "bob@b.test/laptop" || !gone->attr("type")));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->attr("type"), "unavailable");
}

TEST(Federation, OfflineMessageFromARemoteSender) {
  TwoDomains t;
  auto alice = t.alice();
  alice->send("<message to='bob@b.test' type='chat' id='off-1'><body>while you were away</body></message>");
  // The ping's answer follows the message on the same link: by then it is stored.
  auto early = ping_through(*alice, "b.test", "ping-off");
  for (const auto& e : early) ADD_FAILURE() << "unexpected <" << e.name() << "> " << error_condition(e);

  auto bob = t.bob();
  bob->send("<presence/>");
  auto m = bob->receive_named("message", 15s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("from"), "alice@a.test/phone");
  EXPECT_EQ(body(*m), "while you were away");
  EXPECT_NE(m->find_child("delay", "urn:xmpp:delay"), nullptr);
}

// b.test's address answers with a certificate for x.test: a.test refuses the link, and
// alice learns why. x.test serves b.test with only its [tls] certificate (for x.test).
// a.test, and x.test serving b.test with only its own certificate (for x.test), each with a
// route to the other; alice@a.test and carol@b.test logged in.
struct ImpostorPair {
  explicit ImpostorPair(std::string a_extra = {})
      : a_port(free_port()),
        x_port(free_port()),
        x(x_options(ca, x_port, a_port)),
        a(server_options(ca, {"a.test"}, a_port, a_extra + "[federation.routes]\n" + route("b.test", x_port))) {
    a.add_user("alice@a.test", "alice-pw");
    x.add_user("carol@b.test", "carol-pw");
    alice = a.login("alice", "alice-pw", "phone", "a.test");
    auto carol_options = x.client(false, "b.test");
    carol_options.tls_name = "x.test";  // x.test serves b.test with its own certificate
    carol = std::make_unique<XmppClient>(carol_options);
    if (carol->login("carol", "carol-pw", "desk").empty()) throw std::runtime_error("login of carol failed");
  }
  static TestServerOptions x_options(const SharedCa& ca, std::uint16_t x_port, std::uint16_t a_port) {
    auto o = server_options(ca, {"x.test", "b.test"}, x_port, "[federation.routes]\n" + route("a.test", a_port));
    o.one_certificate = true;
    return o;
  }

  SharedCa ca;
  std::uint16_t a_port, x_port;
  TestServer x, a;
  std::unique_ptr<XmppClient> alice, carol;
};

TEST(Federation, APeerWhoseCertificateNamesAnotherDomainIsRefused) {
  ImpostorPair t;
  auto& alice = t.alice;
  auto& carol = t.carol;
  auto& a = t.a;

  // Outbound: a.test checks the certificate of "b.test" and gives up.
  alice->send("<message to='carol@b.test' type='chat' id='c1'><body>are you b.test?</body></message>");
  auto bounce = alice->receive_named("message", 15s);
  ASSERT_TRUE(bounce);
  EXPECT_EQ(bounce->attr("type"), "error");
  EXPECT_EQ(error_condition(*bounce), "remote-server-not-found");
  EXPECT_NE(error_text(*bounce).find("certificate"), std::string::npos) << error_text(*bounce);
  EXPECT_FALSE(carol->receive_named("message", 1s));

  // Inbound: the same server claims b.test towards a.test with the x.test certificate.
  carol->send("<message to='alice@a.test/phone' type='chat' id='c2'><body>trust me</body></message>");
  auto refused = carol->receive_named("message", 15s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(error_condition(*refused), "remote-server-not-found");
  EXPECT_NE(error_text(*refused).find("not-authorized"), std::string::npos) << error_text(*refused);
  EXPECT_FALSE(alice->receive_named("message", 1s));
  EXPECT_NE(a.process().stderr_text().find("your certificate does not authenticate b.test"), std::string::npos);
}

// The same servers as above, but a.test allows dialback (XEP-0220) for b.test: a.test
// cannot trust x.test's certificate for b.test, so it proves itself with a dialback key,
// which x.test has confirmed by a.test's authoritative server (a.test itself, over a
// second connection). Then both directions work over the one connection (XEP-0288).
TEST(Federation, DialbackWhereAllowed) {
  ImpostorPair t("dialback_peers = [\"b.test\"]\n");
  auto& alice = t.alice;
  auto& carol = t.carol;
  auto& a = t.a;
  auto& x = t.x;

  alice->send("<message to='carol@b.test/desk' type='chat' id='d1'><body>by dialback</body></message>");
  auto m = carol->receive_named("message", 20s);
  ASSERT_TRUE(m) << a.process().stderr_text() << "\n---\n" << x.process().stderr_text();
  EXPECT_EQ(m->attr("from"), "alice@a.test/phone");
  EXPECT_EQ(body(*m), "by dialback");
  carol->send("<message to='alice@a.test/phone' type='chat' id='d2'><body>and back</body></message>");
  auto r = alice->receive_named("message", 20s);
  ASSERT_TRUE(r) << a.process().stderr_text() << "\n---\n" << x.process().stderr_text();
  EXPECT_EQ(body(*r), "and back");

  const std::string& a_log = a.process().stderr_text();
  const std::string& x_log = x.process().stderr_text();
  EXPECT_NE(a_log.find("s2s a.test -> b.test: authenticated with dialback"), std::string::npos) << a_log;
  EXPECT_NE(a_log.find("dialback verify for a.test -> b.test: valid"), std::string::npos) << a_log;
  EXPECT_NE(x_log.find("authenticated as a.test with dialback"), std::string::npos) << x_log;
}

// A peer that claims a.test with a key a.test never made is refused: b.test asks a.test,
// which says the key is invalid.
TEST(Federation, AForgedDialbackKeyIsRefused) {
  TwoDomains t("", "dialback_peers = [\"a.test\"]\n");
  ClientOptions o;
  o.port = t.b_port;
  o.domain = "b.test";
  o.ca_file = t.ca.dir() + "/ca.pem";
  o.server_from = "a.test";
  o.certificate = t.ca.dir() + "/c.test.pem";  // not a.test's
  o.private_key = t.ca.dir() + "/c.test.key";
  XmppClient peer(o);
  auto features = peer.connect_tls();
  ASSERT_TRUE(features);
  EXPECT_NE(features->find_child("dialback", "urn:xmpp:features:dialback"), nullptr);
  EXPECT_EQ(features->find_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"), nullptr);
  peer.send("<db:result xmlns:db='jabber:server:dialback' from='a.test' to='b.test'>"
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</db:result>");
  auto verdict = peer.receive(20s);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->name(), "result");
  EXPECT_EQ(verdict->attr("type"), "invalid");
  EXPECT_TRUE(peer.wait_closed(10s));
  EXPECT_NE(t.a.process().stderr_text().find("dialback verify for a.test -> b.test: invalid"), std::string::npos);
}

// A raw peer with a certificate for c.test, speaking s2s by hand.
ClientOptions raw_peer(const SharedCa& ca, std::uint16_t port, const std::string& claims) {
  ClientOptions o;
  o.port = port;
  o.domain = "b.test";
  o.ca_file = ca.dir() + "/ca.pem";
  o.server_from = claims;
  o.certificate = ca.dir() + "/c.test.pem";
  o.private_key = ca.dir() + "/c.test.key";
  return o;
}

// Authenticates a raw peer as c.test with SASL EXTERNAL; returns false with a failure.
bool authenticate_raw(XmppClient& peer) {
  auto features = peer.connect_tls();
  if (!features) return false;
  peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
  auto outcome = peer.receive();
  if (!outcome || outcome->name() != "success") return false;
  return peer.restart_stream().has_value();
}

TEST(Federation, AStanzaFromAnotherDomainCutsThePeerOff) {
  SharedCa ca;
  std::uint16_t port = free_port(), tls_port = free_port();
  auto options = server_options(ca, {"b.test"}, port, "");
  options.s2s_tls_port = tls_port;
  TestServer b(options);
  b.add_user("bob@b.test", "bob-pw");
  auto bob = b.login("bob", "bob-pw", "laptop", "b.test");

  // Over direct TLS (XEP-0368) this time.
  auto o = raw_peer(ca, tls_port, "c.test");
  o.direct_tls = true;
  XmppClient peer(o);
  ASSERT_TRUE(authenticate_raw(peer));

  peer.send("<message from='dave@c.test/x' to='bob@b.test/laptop' type='chat'><body>honest</body></message>");
  auto m = bob->receive_named("message", 10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("from"), "dave@c.test/x");
  EXPECT_EQ(body(*m), "honest");

  peer.send("<message from='alice@a.test/x' to='bob@b.test/laptop' type='chat'><body>forged</body></message>");
  EXPECT_TRUE(peer.wait_closed(10s));
  EXPECT_EQ(peer.stream_error(), "invalid-from");
  EXPECT_FALSE(bob->receive_named("message", 1s));

  // A stanza for a domain that is not served here: host-unknown.
  XmppClient again(o);
  ASSERT_TRUE(authenticate_raw(again));
  again.send("<message from='dave@c.test/x' to='someone@elsewhere.test' type='chat'><body>?</body></message>");
  EXPECT_TRUE(again.wait_closed(10s));
  EXPECT_EQ(again.stream_error(), "host-unknown");
}

TEST(Federation, InboundNegotiationRules) {
  SharedCa ca;
  std::uint16_t port = free_port();
  TestServer b(server_options(ca, {"b.test"}, port, "deny = [\"denied.test\"]\n"));

  {  // Claiming a.test with a certificate for c.test.
    XmppClient peer(raw_peer(ca, port, "a.test"));
    EXPECT_FALSE(peer.connect_tls());  // no features after TLS: the stream error instead
    EXPECT_TRUE(peer.wait_closed(10s));
    EXPECT_EQ(peer.stream_error(), "not-authorized");
  }
  {  // Authentication before STARTTLS.
    XmppClient peer(raw_peer(ca, port, "c.test"));
    ASSERT_TRUE(peer.open_stream());
    peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    EXPECT_TRUE(peer.wait_closed(10s));
    EXPECT_EQ(peer.stream_error(), "policy-violation");
  }
  {  // An authorization identity other than the domain the certificate proves.
    XmppClient peer(raw_peer(ca, port, "c.test"));
    ASSERT_TRUE(peer.connect_tls());
    peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>YS50ZXN0</auth>");  // a.test
    auto failure = peer.receive();
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->name(), "failure");
    EXPECT_NE(failure->find_child("invalid-authzid", "urn:ietf:params:xml:ns:xmpp-sasl"), nullptr);
  }
  {  // A stanza before authentication.
    XmppClient peer(raw_peer(ca, port, "c.test"));
    ASSERT_TRUE(peer.connect_tls());
    peer.send("<message from='dave@c.test' to='bob@b.test'><body>early</body></message>");
    EXPECT_TRUE(peer.wait_closed(10s));
    EXPECT_EQ(peer.stream_error(), "not-authorized");
  }
  {  // A stream for a domain this server does not serve.
    auto o = raw_peer(ca, port, "c.test");
    o.domain = "nobody.test";
    XmppClient peer(o);
    peer.open_stream();
    EXPECT_TRUE(peer.wait_closed(10s));
    EXPECT_EQ(peer.stream_error(), "host-unknown");
  }
  {  // A denied domain.
    XmppClient peer(raw_peer(ca, port, "denied.test"));
    peer.open_stream();
    EXPECT_TRUE(peer.wait_closed(10s));
    EXPECT_EQ(peer.stream_error(), "policy-violation");
  }
}

TEST(Federation, DeniedAndClosedFederation) {
  // a.test federates only with the domains it allows; b.test is not among them.
  TwoDomains t("allow = [\"c.test\"]\n");
  auto alice = t.alice();
  auto bob = t.bob();
  alice->send("<message to='bob@b.test' type='chat' id='d1'><body>hi</body></message>");
  auto bounce = alice->receive_named("message", 10s);
  ASSERT_TRUE(bounce);
  EXPECT_EQ(error_condition(*bounce), "not-allowed");

  // b.test tries the other way and a.test refuses the stream.
  bob->send("<message to='alice@a.test' type='chat' id='d2'><body>hi</body></message>");
  auto refused = bob->receive_named("message", 15s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(error_condition(*refused), "remote-server-not-found");
  EXPECT_NE(error_text(*refused).find("policy-violation"), std::string::npos) << error_text(*refused);
  EXPECT_FALSE(alice->receive_named("message", 1s));
}

// A listening socket that never accepts: connections succeed and nothing ever answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(Federation, ADomainThatDoesNotAnswerBouncesInBoundedTime) {
  SharedCa ca;
  SilentListener silent;
  std::uint16_t closed_port = free_port();
  auto options = server_options(ca, {"a.test"}, 0, "");
  options.extra_config = "[federation]\nconnect_timeout = 2\n[federation.routes]\n" +
                         route("silent.test", silent.port()) + route("closed.test", closed_port);
  TestServer a(options);
  a.add_user("alice@a.test", "alice-pw");
  auto alice = a.login("alice", "alice-pw", "phone", "a.test");

  auto start = std::chrono::steady_clock::now();
  alice->send("<message to='someone@silent.test' type='chat' id='s1'><body>1</body></message>");
  alice->send("<message to='someone@silent.test' type='chat' id='s2'><body>2</body></message>");
  for (const char* id : {"s1", "s2"}) {
    auto bounce = alice->receive_named("message", 20s);
    ASSERT_TRUE(bounce) << id;
    EXPECT_EQ(bounce->attr("id"), id);
    EXPECT_EQ(error_condition(*bounce), "remote-server-timeout");
  }
  // connect_timeout is 2 s; the bound here is loose so that a slow machine passes.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);

  alice->send("<message to='someone@closed.test' type='chat' id='c1'><body>3</body></message>");
  auto refused = alice->receive_named("message", 20s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(error_condition(*refused), "remote-server-not-found");
  EXPECT_NE(error_text(*refused).find("refused"), std::string::npos) << error_text(*refused);
}

}  // namespace
}  // namespace parley::test
