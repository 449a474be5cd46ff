// The [limits] of client connections, observed from outside: slow negotiation times out, a
// client that stops reading is cut off once its queue passes the bound, and the server's
// memory stays flat meanwhile.
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

}  // namespace
}  // namespace parley::test
