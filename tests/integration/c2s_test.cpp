// Client connections over real TLS sockets against a `parley serve` process, written as
// transcripts: who sends what, who receives what.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "server/crypto.hpp"
#include "server/sasl/scram.hpp"
#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;


// The condition of a stanza error reply, or "".
class C2s : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    server_->add_user("alice@localhost", "alice-secret");
    server_->add_user("bob@localhost", "bob-secret");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // After each test, whatever it sent, the server still serves a new client.
  void TearDown() override {
    XmppClient c(server_->client());
    EXPECT_FALSE(c.login("bob", "bob-secret", "after-test").empty()) << "the server stopped serving";
  }
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, user + "-secret", resource);
  }
  static TestServer* server_;
};
TestServer* C2s::server_ = nullptr;

TEST_F(C2s, BeforeTlsOnlyStartTlsIsOffered) {
  XmppClient c(server_->client());
  auto features = c.open_stream();
  ASSERT_TRUE(features);
  auto* starttls = features->find_child("starttls", "urn:ietf:params:xml:ns:xmpp-tls");
  ASSERT_NE(starttls, nullptr);
  EXPECT_NE(starttls->find_child("required", "urn:ietf:params:xml:ns:xmpp-tls"), nullptr);
  EXPECT_EQ(features->find_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"), nullptr);
}

TEST_F(C2s, AuthBeforeStartTlsIsRefused) {
  XmppClient c(server_->client());
  ASSERT_TRUE(c.open_stream());
  c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
         server::crypto::base64_encode(std::string("\0alice\0alice-secret", 19)) + "</auth>");
  auto failure = c.receive();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->name(), "failure");
  EXPECT_NE(failure->find_child("encryption-required", "urn:ietf:params:xml:ns:xmpp-sasl"), nullptr);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "policy-violation");
}

TEST_F(C2s, AfterTlsTheMechanismsIncludePlusAndChannelBindingTypes) {
  XmppClient c(server_->client());
  auto features = c.connect_tls();
  ASSERT_TRUE(features);
  auto* mechs = features->find_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl");
  ASSERT_NE(mechs, nullptr);
  std::vector<std::string> names;
  for (const auto& m : mechs->children()) names.push_back(m.text());
  EXPECT_EQ(names, (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256",
                                             "SCRAM-SHA-1", "PLAIN"}));
  auto* cb = features->find_child("sasl-channel-binding", "urn:xmpp:sasl-cb:0");
  ASSERT_NE(cb, nullptr);  // XEP-0440
  EXPECT_EQ(cb->find_child("channel-binding", "urn:xmpp:sasl-cb:0")->attr("type"), "tls-exporter");
}

class C2sMechanism : public C2s, public ::testing::WithParamInterface<std::pair<std::string, bool>> {};

TEST_P(C2sMechanism, LogsInAndBinds) {
  auto [mechanism, direct] = GetParam();
  XmppClient c(server_->client(direct));
  ASSERT_TRUE(c.connect_tls());
  ASSERT_EQ(c.authenticate(mechanism, "alice", "alice-secret"), "") << mechanism;
  EXPECT_EQ(c.authenticate(mechanism, "alice", "alice-secret"), "timeout") << "a stream restart is due";
}

INSTANTIATE_TEST_SUITE_P(
    All, C2sMechanism,
    ::testing::Values(std::pair{"SCRAM-SHA-256", false}, std::pair{"SCRAM-SHA-256-PLUS", false},
                      std::pair{"SCRAM-SHA-1", false}, std::pair{"SCRAM-SHA-1-PLUS", false},
                      std::pair{"PLAIN", false}, std::pair{"SCRAM-SHA-256", true},
                      std::pair{"SCRAM-SHA-256-PLUS", true}),
    [](const auto& info) {
      std::string n = info.param.first + (info.param.second ? "_direct" : "_starttls");
      for (char& ch : n) if (ch == '-') ch = '_';
      return n;
    });

TEST_F(C2s, FullLoginOverStartTlsAndDirectTls) {
  XmppClient a(server_->client(false));
  EXPECT_EQ(a.login("alice", "alice-secret", "phone"), "alice@localhost/phone");
  XmppClient b(server_->client(true));
  EXPECT_EQ(b.login("alice", "alice-secret", "laptop"), "alice@localhost/laptop");
  EXPECT_STREQ(reinterpret_cast<const char*>(SSL_get_version(b.ssl())), "TLSv1.3");
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(b.ssl(), &alpn, &alpn_len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "xmpp-client");
}

TEST_F(C2s, Tls12ChannelBindingUsesTlsUnique) {
  auto opts = server_->client();
  opts.max_tls_version = TLS1_2_VERSION;
  XmppClient c(opts);
  auto features = c.connect_tls();
  ASSERT_TRUE(features);
  EXPECT_STREQ(SSL_get_version(c.ssl()), "TLSv1.2");
  EXPECT_EQ(c.authenticate("SCRAM-SHA-256-PLUS", "alice", "alice-secret"), "");
}

TEST_F(C2s, WrongPasswordAndUnknownAccountAreIndistinguishable) {
  XmppClient wrong(server_->client());
  ASSERT_TRUE(wrong.connect_tls());
  XmppClient unknown(server_->client());
  ASSERT_TRUE(unknown.connect_tls());
  EXPECT_EQ(wrong.authenticate("SCRAM-SHA-256", "alice", "not-her-password"), "not-authorized");
  EXPECT_EQ(unknown.authenticate("SCRAM-SHA-256", "nobody", "whatever"), "not-authorized");
  EXPECT_EQ(wrong.authenticate("PLAIN", "alice", "not-her-password"), "not-authorized");
  EXPECT_EQ(unknown.authenticate("PLAIN", "nobody", "whatever"), "not-authorized");
  // Both get a challenge of the same shape: a 16-byte salt and the configured count.
  for (const char* user : {"alice", "nobody"}) {
    XmppClient c(server_->client());
    ASSERT_TRUE(c.connect_tls());
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" +
           server::crypto::base64_encode(std::string("n,,n=") + user + ",r=abcdefghijklmnop") + "</auth>");
    auto challenge = c.receive();
    ASSERT_TRUE(challenge);
    ASSERT_EQ(challenge->name(), "challenge") << user;
    auto text = *server::crypto::base64_decode(challenge->text());
    auto s = text.find(",s="), i = text.find(",i=");
    ASSERT_NE(s, std::string::npos);
    EXPECT_EQ(server::crypto::base64_decode(text.substr(s + 3, i - s - 3))->size(), 16u) << user;
    EXPECT_EQ(text.substr(i), ",i=4096") << user;
  }
}

TEST_F(C2s, ThreeFailedAttemptsEndTheStream) {
  XmppClient c(server_->client());
  ASSERT_TRUE(c.connect_tls());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.authenticate("SCRAM-SHA-256", "alice", "wrong"), "not-authorized");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "policy-violation");
}

TEST_F(C2s, MessageBetweenTwoAccounts) {
  auto alice = login("alice", "desk");
  auto bob = login("bob", "phone");
  alice->send("<message to='bob@localhost/phone' type='chat' id='m1'><body>hi bob &amp; co</body></message>");
  auto m = bob->receive_named("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("from"), "alice@localhost/desk");
  EXPECT_EQ(m->attr("id"), "m1");
  EXPECT_EQ(m->find_child("body", "jabber:client")->text(), "hi bob & co");

  // To the bare JID: delivered once bob is available (initial presence). Bob's own
  // stanzas are handled in order, so the answer to a ping after his presence says it was
  // handled; without it, alice's message (another connection) could arrive first and be
  // bounced, as to an account with nobody available.
  bob->send("<presence/>");
  bob->send("<iq type='get' id='after-presence'><ping xmlns='urn:xmpp:ping'/></iq>");
  auto pong = bob->receive_named("iq");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("id"), "after-presence");
  alice->send("<message to='bob@localhost' type='chat' id='m2'><body>bare</body></message>");
  auto m2 = bob->receive_named("message");
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->attr("id"), "m2");
}

TEST_F(C2s, MessageToAnAccountWithNobodyOnlineIsBouncedNotLost) {
  auto alice = login("alice", "desk");
  alice->send("<message to='bob@localhost' type='chat' id='m3'><body>anyone?</body></message>");
  auto reply = alice->receive_named("message");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->attr("id"), "m3");
  EXPECT_EQ(error_condition(*reply), "service-unavailable");
}

TEST_F(C2s, ForgedFromIsOverwritten) {
  auto alice = login("alice", "desk");
  auto bob = login("bob", "phone");
  alice->send("<message from='bob@localhost/phone' to='bob@localhost/phone' id='f1'><body>x</body></message>");
  auto m = bob->receive_named("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("from"), "alice@localhost/desk");
}

TEST_F(C2s, BindConflictReplacesTheOlderSession) {
  auto first = login("alice", "same");
  auto second = login("alice", "same");
  EXPECT_TRUE(first->wait_closed());
  EXPECT_EQ(first->stream_error(), "conflict");
  second->send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  auto pong = second->receive_named("iq");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("type"), "result");
}

TEST_F(C2s, ServerGeneratedResource) {
  XmppClient c(server_->client());
  std::string jid = c.login("alice", "alice-secret", "");
  EXPECT_TRUE(jid.starts_with("alice@localhost/")) << jid;
  EXPECT_GT(jid.size(), std::string("alice@localhost/").size());
}

TEST_F(C2s, UnknownIqGetsServiceUnavailable) {
  auto alice = login("alice", "desk");
  alice->send("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
  auto reply = alice->receive_named("iq");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->attr("id"), "u1");
  EXPECT_EQ(error_condition(*reply), "service-unavailable");
}

TEST_F(C2s, PingVersionTimeAndDisco) {
  auto alice = login("alice", "desk");
  alice->send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  auto pong = alice->receive_named("iq");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("type"), "result");
  EXPECT_EQ(pong->attr("from"), "localhost");

  alice->send("<iq type='get' id='v' to='localhost'><query xmlns='jabber:iq:version'/></iq>");
  auto v = alice->receive_named("iq");
  ASSERT_TRUE(v && v->attr("type") == "result");
  EXPECT_EQ(v->find_child("query", "jabber:iq:version")->find_child("name", "jabber:iq:version")->text(), "parley");

  alice->send("<iq type='get' id='t' to='localhost'><time xmlns='urn:xmpp:time'/></iq>");
  auto t = alice->receive_named("iq");
  ASSERT_TRUE(t && t->attr("type") == "result");
  EXPECT_TRUE(t->find_child("time", "urn:xmpp:time")->find_child("utc", "urn:xmpp:time")->text().ends_with("Z"));

  alice->send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto d = alice->receive_named("iq");
  ASSERT_TRUE(d && d->attr("type") == "result");
  std::vector<std::string> features;
  for (const auto& f : d->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    if (f.name() == "feature") features.emplace_back(*f.attr("var"));
  }
  for (const char* expected : {"urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time",
                               "http://jabber.org/protocol/disco#info"}) {
    EXPECT_NE(std::find(features.begin(), features.end(), expected), features.end()) << expected;
  }
}

TEST_F(C2s, RemoteDomainWithoutFederationIsRemoteServerNotFound) {
  auto alice = login("alice", "desk");
  alice->send("<message to='someone@elsewhere.example' id='r1'><body>x</body></message>");
  auto reply = alice->receive_named("message");
  ASSERT_TRUE(reply);
  EXPECT_EQ(error_condition(*reply), "remote-server-not-found");
}

TEST_F(C2s, MalformedAddressIsJidMalformed) {
  auto alice = login("alice", "desk");
  alice->send("<message to='a@b@c' id='j1'><body>x</body></message>");
  auto reply = alice->receive_named("message");
  ASSERT_TRUE(reply);
  EXPECT_EQ(error_condition(*reply), "jid-malformed");
}

TEST_F(C2s, OversizedStanzaIsAPolicyViolation) {
  auto alice = login("alice", "desk");
  alice->send("<message to='bob@localhost'><body>" + std::string(300 * 1024, 'x') + "</body></message>");
  EXPECT_TRUE(alice->wait_closed(std::chrono::seconds(10)));
  EXPECT_EQ(alice->stream_error(), "policy-violation");
}

TEST_F(C2s, DoctypeIsRestrictedXml) {
  XmppClient c(server_->client());
  c.send("<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x 'y'>]><stream:stream to='localhost' "
         "version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "restricted-xml");
}

TEST_F(C2s, UnknownHostIsHostUnknown) {
  XmppClient c(server_->client());
  auto features = c.open_stream("not-served.example");
  EXPECT_FALSE(features);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "host-unknown");
}

TEST_F(C2s, StanzaBeforeBindIsNotAuthorized) {
  XmppClient c(server_->client());
  ASSERT_TRUE(c.connect_tls());
  c.send("<message to='bob@localhost'><body>early</body></message>");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "not-authorized");
}

TEST_F(C2s, GracefulShutdownSendsSystemShutdown) {
  TestServer own;
  own.add_user("carol@localhost", "carol-secret");
  auto carol = own.login("carol", "carol-secret", "x");
  EXPECT_EQ(own.process().stop(SIGTERM), 0) << own.process().stderr_text();
  EXPECT_TRUE(carol->wait_closed());
  EXPECT_EQ(carol->stream_error(), "system-shutdown");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// RFC 5802 §6: "y" (the client can bind but thinks the server cannot) after the server
// offered -PLUS is a downgrade on TLS 1.2, where every binding client knows tls-unique; on
// TLS 1.3 clients without tls-exporter say "y" honestly and are let in.
std::string login_with_y_flag(TestServer& server, int max_tls) {
  auto opts = server.client();
  opts.max_tls_version = max_tls;
  XmppClient c(opts);
  if (!c.connect_tls()) return "no-tls";
  server::sasl::ScramClientOptions o;
  o.supports_channel_binding = true;
  server::sasl::ScramClient scram(server::crypto::Hash::sha256, "alice", "alice-secret", o);
  c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" +
         server::crypto::base64_encode(scram.first()) + "</auth>");
  auto reply = c.receive();
  if (!reply) return "timeout";
  if (reply->name() != "challenge") return reply->name();
  auto final = scram.final(*server::crypto::base64_decode(reply->text()));
  c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + server::crypto::base64_encode(*final) + "</response>");
  auto outcome = c.receive();
  return outcome ? outcome->name() : "timeout";
}

TEST_F(C2s, TheYFlagIsADowngradeOnTls12ButAcceptedOnTls13) {
  EXPECT_EQ(login_with_y_flag(*server_, TLS1_2_VERSION), "failure");
  EXPECT_EQ(login_with_y_flag(*server_, TLS1_3_VERSION), "success");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// TLS policy (DESIGN.md): 1.2 and 1.3 only, ECDHE key exchange and AEAD ciphers only. The
// client here is willing to use anything; the server must refuse what the policy forbids.
bool direct_tls_handshake(TestServer& server, int min, int max, const std::string& ciphers) {
  auto opts = server.client(true);
  opts.min_tls_version = min;
  opts.max_tls_version = max;
  opts.cipher_list = ciphers;
  try {
    XmppClient c(opts);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

TEST_F(C2s, TlsPolicyRefusesOldVersionsNonEcdheAndNonAeadSuites) {
  EXPECT_TRUE(direct_tls_handshake(*server_, TLS1_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"));
  EXPECT_FALSE(direct_tls_handshake(*server_, TLS1_VERSION, TLS1_1_VERSION, "ALL:@SECLEVEL=0"));
  EXPECT_FALSE(direct_tls_handshake(*server_, TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"));  // CBC
  EXPECT_FALSE(direct_tls_handshake(*server_, TLS1_2_VERSION, TLS1_2_VERSION, "AES128-GCM-SHA256"));  // RSA kex
  EXPECT_FALSE(direct_tls_handshake(*server_, TLS1_2_VERSION, TLS1_2_VERSION, "DHE-RSA-AES128-GCM-SHA256"));
}

TEST_F(C2s, WhitespaceKeepalivesAreTolerated) {
  auto alice = login("alice", "keepalive");
  alice->send(" \n \t ");
  alice->send("<iq type='get' id='k1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  alice->send("   ");
  auto pong = alice->receive_named("iq");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("type"), "result");
  EXPECT_EQ(alice->stream_error(), "");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// Each host's own certificate is chosen by SNI (the client verifies the name it asked for),
// and after authentication the features offer bind and the optional old session.
TEST(C2sHosts, TheCertificateIsChosenBySniAndBothHostsServe) {
  TestServerOptions opts;
  opts.domains = {"localhost", "other.test"};
  TestServer server(opts);
  server.add_user("dana@other.test", "pw");
  for (bool direct : {false, true}) {
    XmppClient c(server.client(direct, "other.test"));
    ASSERT_TRUE(c.connect_tls()) << "no TLS with a certificate for other.test (direct=" << direct << ")";
    ASSERT_EQ(c.authenticate("SCRAM-SHA-256", "dana", "pw"), "");
  }
  XmppClient c(server.client(false, "other.test"));
  EXPECT_EQ(c.login("dana", "pw", "x"), "dana@other.test/x");
}

TEST_F(C2s, AfterAuthenticationBindAndTheOptionalSessionAreOffered) {
  XmppClient c(server_->client());
  ASSERT_TRUE(c.connect_tls());
  ASSERT_EQ(c.authenticate("SCRAM-SHA-256", "alice", "alice-secret"), "");
  auto features = c.restart_stream();
  ASSERT_TRUE(features);
  EXPECT_NE(features->find_child("bind", "urn:ietf:params:xml:ns:xmpp-bind"), nullptr);
  auto* session = features->find_child("session", "urn:ietf:params:xml:ns:xmpp-session");
  ASSERT_NE(session, nullptr);
  EXPECT_NE(session->find_child("optional", "urn:ietf:params:xml:ns:xmpp-session"), nullptr);
  EXPECT_EQ(features->find_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"), nullptr);
}

}  // namespace
}  // namespace parley::test
