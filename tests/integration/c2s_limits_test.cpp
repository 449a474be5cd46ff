// The [limits] of client connections, observed from outside: slow negotiation times out, a
// client that stops reading is cut off once its queue passes the bound, and the server's
// memory stays flat meanwhile; stanzas nested too deeply or with too many attributes end
// the stream.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class C2sLimits : public ::testing::Test {
 protected:
  static TestServerOptions options() {
    TestServerOptions o;
    o.extra_config = "[limits]\nnegotiation_timeout = 1\nwrite_queue_bytes = 65536\n";
    return o;
  }
  TestServer server_{options()};
};

TEST_F(C2sLimits, ASilentConnectionTimesOut) {
  XmppClient c(server_.client());
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  EXPECT_EQ(c.stream_error(), "connection-timeout");
}

TEST_F(C2sLimits, NegotiationThatStallsTimesOut) {
  XmppClient c(server_.client());
  ASSERT_TRUE(c.connect_tls());  // then say nothing more
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  EXPECT_EQ(c.stream_error(), "connection-timeout");
}

TEST_F(C2sLimits, AClientThatStopsReadingIsDisconnectedAndMemoryStaysFlat) {
  server_.add_user("alice@localhost", "pw");
  server_.add_user("bob@localhost", "pw");
  auto alice = server_.login("alice", "pw", "sender");
  auto bob = server_.login("bob", "pw", "sleepy");  // bob never reads from here on
  long before = rss_kib(server_.process().pid());
  std::string body(100 * 1024, 'z');
  // 40 MB towards bob: far more than the socket buffers and the 64 KiB queue bound hold.
  bool bounced = false;
  for (int i = 0; i < 400 && !bounced; ++i) {
    alice->send("<message to='bob@localhost/sleepy' id='q" + std::to_string(i) + "'><body>" + body +
                "</body></message>");
    // Alice keeps reading (errors echo the message), so only bob's queue can grow.
    while (auto reply = alice->receive(std::chrono::milliseconds(0))) {
      bounced = bounced || (reply->name() == "message" && reply->attr("type") == "error");
    }
  }
  long peak = rss_kib(server_.process().pid());
  // Once bob's session is gone, a message to his full JID is refused (nothing lost silently).
  for (int i = 0; i < 50 && !bounced; ++i) {
    alice->send("<message to='bob@localhost/sleepy' id='probe'><body>still there?</body></message>");
    auto reply = alice->receive_named("message", std::chrono::milliseconds(200));
    bounced = reply && reply->attr("type") == "error";
  }
  EXPECT_TRUE(bounced) << "bob's session was not ended; alice: " << alice->stream_error() << "\n" << server_.process().stderr_text();
  EXPECT_NE(server_.process().stderr_text().find("output queue over"), std::string::npos);
  EXPECT_LT(peak - before, 64 * 1024) << "server RSS grew by " << (peak - before) << " KiB";
}

// The parser's bounds from [limits]: max_depth and max_attributes set far below their
// default (64), so the stanzas refused here would pass if the settings did not reach the
// parser. Exceeding either is "local service policy" (RFC 6120 §4.9.3.14: policy-violation).
class C2sParserLimits : public ::testing::Test {
 protected:
  static TestServerOptions options() {
    TestServerOptions o;
    o.extra_config = "[limits]\nmax_depth = 8\nmax_attributes = 8\n";
    return o;
  }
  void SetUp() override {
    server_.add_user("alice@localhost", "pw");
    server_.add_user("bob@localhost", "pw");
    alice_ = server_.login("alice", "pw", "desk");
    bob_ = server_.login("bob", "pw", "phone");
  }
  // Bob is still served after alice's stream ended, and got nothing of what she sent last.
  void expect_bob_unaffected() {
    bob_->send("<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    for (;;) {
      auto e = bob_->receive();
      ASSERT_TRUE(e) << "bob got no answer to a ping";
      if (e->name() == "iq" && e->attr("id") == "alive") {
        EXPECT_EQ(e->attr("type"), "result");
        return;
      }
      ADD_FAILURE() << "bob received a " << e->name() << " " << e->attr("id").value_or("");
    }
  }

  TestServer server_{options()};
  std::unique_ptr<XmppClient> alice_, bob_;
};

// A message to bob whose element levels, the <message/> itself included, number `depth`.
std::string nested_message(const std::string& id, int depth) {
  std::string open, close;
  for (int level = 2; level <= depth; ++level) {
    open += level == 2 ? "<n xmlns='urn:example:nest'>" : "<n>";
    close = "</n>" + close;
  }
  return "<message to='bob@localhost/phone' id='" + id + "'>" + open + close + "</message>";
}

TEST_F(C2sParserLimits, AStanzaNestedDeeperThanMaxDepthIsAPolicyViolation) {
  for (int depth : {5, 8}) {  // within the bound, the bound itself included
    std::string id = "depth" + std::to_string(depth);
    alice_->send(nested_message(id, depth));
    auto m = bob_->receive_named("message");
    ASSERT_TRUE(m) << "a message " << depth << " levels deep was not delivered: " << alice_->stream_error();
    EXPECT_EQ(m->attr("id"), id);
  }
  alice_->send(nested_message("depth9", 9));
  EXPECT_TRUE(alice_->wait_closed());
  EXPECT_EQ(alice_->stream_error(), "policy-violation");
  expect_bob_unaffected();
}

TEST_F(C2sParserLimits, AnElementWithMoreThanMaxAttributesIsAPolicyViolation) {
  // Namespace declarations count as attributes: xmlns and a1..a7 are eight.
  std::string attrs = "xmlns='urn:example:attrs'";
  for (int i = 1; i <= 7; ++i) attrs += " a" + std::to_string(i) + "='" + std::to_string(i) + "'";
  alice_->send("<message to='bob@localhost/phone' id='eight'><x " + attrs + "/></message>");
  auto m = bob_->receive_named("message");
  ASSERT_TRUE(m) << "eight attributes were refused: " << alice_->stream_error();
  EXPECT_EQ(m->attr("id"), "eight");
  alice_->send("<message to='bob@localhost/phone' id='nine'><x " + attrs + " a8='8'/></message>");
  EXPECT_TRUE(alice_->wait_closed());
  EXPECT_EQ(alice_->stream_error(), "policy-violation");
  expect_bob_unaffected();
}

}  // namespace
}  // namespace parley::test
