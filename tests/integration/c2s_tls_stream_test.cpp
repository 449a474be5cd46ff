// Client connections run TLS with OpenSSL on the socket itself (server/net/tls_stream.hpp),
// reading only when the socket is readable, into a buffer per thread. Observed from
// outside: stanzas spanning many TLS records arrive intact both ways, many stanzas in one
// write are all delivered, and a TLS 1.3 key update from the client is answered while the
// session goes on.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

class C2sTlsStream : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.add_user("alice@localhost", "pw");
    server_.add_user("bob@localhost", "pw");
    alice_ = server_.login("alice", "pw", "a");
    bob_ = server_.login("bob", "pw", "b");
    ASSERT_TRUE(alice_ && bob_);
  }
  TestServer server_{TestServerOptions{}};
  std::unique_ptr<XmppClient> alice_, bob_;
};

// A body of 200 KiB (the default max_stanza_bytes is 256 KiB): a dozen TLS records in, a
// dozen out, read over several wake-ups and written with partial writes.
TEST_F(C2sTlsStream, AStanzaOfManyTlsRecordsArrivesIntactBothWays) {
  std::string body;
  for (int i = 0; body.size() < 200 * 1024; ++i) body += "line " + std::to_string(i) + ";";
  alice_->send("<message to='bob@localhost/b' id='big1'><body>" + body + "</body></message>");
  auto got = bob_->receive_named("message", 10s);
  ASSERT_TRUE(got) << "bob received nothing; alice: " << alice_->stream_error();
  const auto* b = got->find_child("body", "jabber:client");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->text(), body);

  bob_->send("<message to='alice@localhost/a' id='big2'><body>" + body + "</body></message>");
  auto back = alice_->receive_named("message", 10s);
  ASSERT_TRUE(back);
  const auto* b2 = back->find_child("body", "jabber:client");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->text(), body);
}

// Fifty stanzas in one write reach the server together; every one is delivered, in order.
TEST_F(C2sTlsStream, ManyStanzasInOneWriteAreAllDeliveredInOrder) {
  std::string burst;
  for (int i = 0; i < 50; ++i) {
    burst += "<message to='bob@localhost/b' id='m" + std::to_string(i) + "'><body>n" + std::to_string(i) +
             "</body></message>";
  }
  alice_->send(burst);
  for (int i = 0; i < 50; ++i) {
    auto got = bob_->receive_named("message", 5s);
    ASSERT_TRUE(got) << "message " << i << " missing";
    EXPECT_EQ(got->attr("id"), "m" + std::to_string(i));
  }
}

// RFC 8446 §4.6.3: a KeyUpdate with update_requested must be answered with the server's
// own KeyUpdate; the client then reads under the server's new keys. The session carries on.
TEST_F(C2sTlsStream, AClientKeyUpdateIsAnsweredAndTheSessionGoesOn) {
  ASSERT_EQ(SSL_version(alice_->ssl()), TLS1_3_VERSION);
  ASSERT_EQ(SSL_key_update(alice_->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
  // The KeyUpdate leaves with alice's next write.
  alice_->send("<message to='bob@localhost/b' id='after-update'><body>one</body></message>");
  auto got = bob_->receive_named("message", 5s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->attr("id"), "after-update");
  bob_->send("<message to='alice@localhost/a' id='reply'><body>two</body></message>");
  auto reply = alice_->receive_named("message", 5s);
  ASSERT_TRUE(reply) << "alice: " << alice_->stream_error() << " " << alice_->parse_error();
  EXPECT_EQ(reply->attr("id"), "reply");
  alice_->send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  auto pong = alice_->receive_named("iq", 5s);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("type"), "result");
}

}  // namespace
}  // namespace parley::test
