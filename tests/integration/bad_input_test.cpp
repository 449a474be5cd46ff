// Bad input over real TLS (issue 6): each is answered with its defined stream error or SASL
// failure, and after each one the server still serves a new client (TearDown).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

#include "server/crypto.hpp"
#include "server/sasl/scram.hpp"
#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
const std::string kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    server_->add_user("alice@localhost", "alice-secret");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    XmppClient c(server_->client());
    EXPECT_FALSE(c.login("alice", "alice-secret", "after").empty()) << "the server stopped serving";
  }
  // A client past TLS, before authentication.
  std::unique_ptr<XmppClient> secured() {
    auto c = std::make_unique<XmppClient>(server_->client());
    if (!c->connect_tls()) throw std::runtime_error("no TLS");
    return c;
  }
  // A bound client.
  std::unique_ptr<XmppClient> bound() { return server_->login("alice", "alice-secret", "bad"); }
  static std::string ends_with(XmppClient& c) {
    EXPECT_TRUE(c.wait_closed(10s));
    return c.stream_error();
  }
  static TestServer* server_;
};
TestServer* BadInput::server_ = nullptr;

TEST_F(BadInput, BillionLaughsIsRestrictedXml) {
  XmppClient c(server_->client());  // before any stream: a DOCTYPE may only come first
  c.send("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>"
         "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
         "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(ends_with(c), "restricted-xml");
}

TEST_F(BadInput, ADoctypeInsideTheStreamIsNotWellFormed) {
  auto c = secured();
  c->send("<!DOCTYPE lolz [<!ENTITY lol 'lol'>]><message><body>&lol;</body></message>");
  EXPECT_EQ(ends_with(*c), "not-well-formed");
}

TEST_F(BadInput, DeepNestingIsAPolicyViolation) {
  auto c = bound();
  std::string deep = "<message to='alice@localhost'>";
  for (int i = 0; i < 10000; ++i) deep += "<x>";
  c->send(deep);
  EXPECT_EQ(ends_with(*c), "policy-violation");
}

TEST_F(BadInput, ATenMegabyteStanzaIsCutOffEarly) {
  auto c = bound();
  std::size_t log_before = server_->process().stderr_text().size();
  c->send("<message to='alice@localhost'><body>");
  std::string chunk(64 * 1024, 'a');
  int sent = 0;
  for (; sent < 160 && !c->wait_closed(0ms); ++sent) c->send(chunk);  // 10 MiB at most
  EXPECT_TRUE(c->wait_closed(10s));
  // Refused after about [limits] max_stanza_bytes (256 KiB), long before 10 MiB. The error
  // may be lost to the client when the server resets a connection with unread input, so
  // the log is the witness.
  EXPECT_LT(sent, 160);
  EXPECT_NE(server_->process().stderr_text().find("stream error policy-violation", log_before), std::string::npos);
}

TEST_F(BadInput, AHugeAttributeIsAPolicyViolation) {
  auto c = bound();
  c->send("<message to='alice@localhost' x='" + std::string(1024 * 1024, 'v') + "'/>");
  EXPECT_EQ(ends_with(*c), "policy-violation");
}

TEST_F(BadInput, InvalidUtf8IsNotWellFormed) {
  auto c = bound();
  c->send("<message to='alice@localhost'><body>\xC3\x28 \xFF\xFE</body></message>");
  EXPECT_EQ(ends_with(*c), "not-well-formed");
}

TEST_F(BadInput, ANulByteIsNotWellFormed) {
  auto c = bound();
  c->send(std::string("<message to='alice@localhost'><body>a\0b</body></message>", 53));
  EXPECT_EQ(ends_with(*c), "not-well-formed");
}

TEST_F(BadInput, AnUnboundPrefixIsRefused) {
  auto c = bound();
  c->send("<message to='alice@localhost'><foo:bar/></message>");
  std::string error = ends_with(*c);
  // RFC 6120 §4.9.3.2 bad-namespace-prefix, or not-well-formed (XML Namespaces §5).
  EXPECT_TRUE(error == "bad-namespace-prefix" || error == "not-well-formed") << error;
}

TEST_F(BadInput, AStreamClosedMidStanzaEndsQuietly) {
  auto c = bound();
  c->send("<message to='alice@localhost'><body>half");
  c->send("</stream:stream>");  // not well-formed: the message is still open
  EXPECT_TRUE(c->wait_closed(10s));
}

TEST_F(BadInput, GarbageInsteadOfATlsHandshakeIsDropped) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->c2s_tls_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(4096, '\x16');
  ::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  ssize_t n = 0;
  do {
    n = ::recv(fd, buf, sizeof buf, 0);
  } while (n > 0);
  EXPECT_EQ(n, 0) << "the server closes the connection (a TLS alert may come first)";
  ::close(fd);
}

TEST_F(BadInput, SaslWithBadBase64IsIncorrectEncoding) {
  auto c = secured();
  c->send("<auth xmlns='" + kSasl + "' mechanism='PLAIN'>%%%not base64%%%</auth>");
  auto failure = c->receive();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->name(), "failure");
  EXPECT_NE(failure->find_child("incorrect-encoding", kSasl), nullptr);
}

// One SCRAM-SHA-256 exchange up to the client-final message, which `tamper` may change.
std::unique_ptr<server::xml::Element> scram(XmppClient& c, const std::function<std::string(std::string)>& tamper,
                               std::string* final_sent = nullptr, std::string replay = {}) {
  namespace crypto = server::crypto;
  server::sasl::ScramClient scram(crypto::Hash::sha256, "alice", "alice-secret");
  c.send("<auth xmlns='" + kSasl + "' mechanism='SCRAM-SHA-256'>" + crypto::base64_encode(scram.first()) +
         "</auth>");
  auto challenge = c.receive();
  if (!challenge || challenge->name() != "challenge") return nullptr;
  auto first = crypto::base64_decode(challenge->text());
  auto final = scram.final(*first);
  std::string sent = replay.empty() ? tamper(*final) : replay;
  if (final_sent) *final_sent = sent;
  c.send("<response xmlns='" + kSasl + "'>" + crypto::base64_encode(sent) + "</response>");
  auto outcome = c.receive();
  return outcome ? std::make_unique<server::xml::Element>(std::move(*outcome)) : nullptr;
}

TEST_F(BadInput, AScramNonceMismatchFails) {
  auto c = secured();
  auto outcome = scram(*c, [](std::string final) {
    auto r = final.find(",r=");
    final[r + 3] = final[r + 3] == 'A' ? 'B' : 'A';  // another nonce
    return final;
  });
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->name(), "failure");
}

TEST_F(BadInput, AReplayedScramFinalMessageFails) {
  std::string captured;
  {
    auto first = secured();
    auto ok = scram(*first, [](std::string f) { return f; }, &captured);
    ASSERT_TRUE(ok);
    ASSERT_EQ(ok->name(), "success") << "the original exchange succeeds";
  }
  auto c = secured();
  auto outcome = scram(*c, [](std::string f) { return f; }, nullptr, captured);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->name(), "failure") << "a new exchange has a new server nonce";
}

}  // namespace
}  // namespace parley::test
