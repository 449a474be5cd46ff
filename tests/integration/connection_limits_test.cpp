// [limits] on connections and what a client may send, observed from outside: connections per
// address and in total, sessions per account, the read rate (pacing, not cutting off) and
// the time to finish a stanza (slowloris). Each time, other clients are still served.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

TestServerOptions limited(const std::string& limits) {
  TestServerOptions o;
  o.extra_config = "[limits]\n" + limits;
  return o;
}

TEST(ConnectionLimits, ConnectionsPerAddressAreCapped) {
  TestServer server(limited("max_connections_per_address = 3\n"));
  server.add_user("alice@localhost", "pw");
  std::vector<std::unique_ptr<XmppClient>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<XmppClient>(server.client()));
    ASSERT_TRUE(open.back()->open_stream()) << i;
  }
  XmppClient refused(server.client());
  EXPECT_TRUE(refused.wait_closed(5s));
  EXPECT_EQ(refused.stream_error(), "policy-violation");
  // A place frees up when a connection ends.
  open.pop_back();
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    XmppClient again(server.client());
    admitted = again.open_stream().has_value();
    if (!admitted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(admitted);
  EXPECT_NE(server.process().stderr_text().find("too many connections from 127.0.0.1"), std::string::npos);
}

TEST(ConnectionLimits, SessionsPerAccountAreCapped) {
  TestServer server(limited("max_sessions_per_account = 2\n"));
  server.add_user("alice@localhost", "pw");
  auto one = server.login("alice", "pw", "one");
  auto two = server.login("alice", "pw", "two");
  XmppClient three(server.client());
  ASSERT_TRUE(three.connect_tls());
  ASSERT_EQ(three.authenticate("SCRAM-SHA-256", "alice", "pw"), "");
  ASSERT_TRUE(three.restart_stream());
  three.send("<iq type='set' id='b3'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>three</resource></bind></iq>");
  auto answer = three.receive_named("iq");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->attr("type"), "error");
  EXPECT_EQ(error_condition(*answer), "resource-constraint");
  // Binding a resource that exists replaces that session (RFC 6120 §7.7.2.2), over the cap.
  EXPECT_EQ(three.bind("two"), "alice@localhost/two");
  EXPECT_TRUE(two->wait_closed(5s));
  EXPECT_EQ(two->stream_error(), "conflict");
}

TEST(ConnectionLimits, AFastSenderIsPacedNotCutOff) {
  // 64 KiB at once, then 16 KiB/s: ~200 KiB take at least ~8 s more than the burst allows.
  TestServer server(limited("read_bytes_per_second = 16384\nread_burst_bytes = 65536\n"));
  server.add_user("alice@localhost", "pw");
  server.add_user("bob@localhost", "pw");
  auto alice = server.login("alice", "pw", "a");
  auto bob = server.login("bob", "pw", "b");
  std::string filler(4000, 'x');
  auto start = std::chrono::steady_clock::now();
  const int count = 50;  // ~200 KB
  for (int i = 0; i < count; ++i) {
    alice->send("<message to='bob@localhost/b' type='chat' id='m" + std::to_string(i) + "'><body>" + filler +
                "</body></message>");
  }
  int received = 0;
  while (received < count) {
    auto m = bob->receive_named("message", 30s);
    if (!m) break;
    ++received;
  }
  EXPECT_EQ(received, count) << "nothing lost";
  // A lower bound only: pacing can make it slower, never faster.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 6s);
  EXPECT_TRUE(alice->stream_error().empty());
}

TEST(ConnectionLimits, AStanzaThatNeverEndsTimesOut) {
  TestServer server(limited("stanza_timeout = 2\n"));
  server.add_user("alice@localhost", "pw");
  server.add_user("bob@localhost", "pw");
  auto slow = server.login("alice", "pw", "slow");
  slow->send("<message to='bob@localhost'><body>and then");
  // It keeps trickling, so the idle timeout alone would never fire.
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) {
    slow->send(" more");
    closed = slow->wait_closed(1s);
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(slow->stream_error(), "connection-timeout");
  auto bob = server.login("bob", "pw", "b");
  EXPECT_FALSE(bob->jid().empty());
}

}  // namespace
}  // namespace parley::test
