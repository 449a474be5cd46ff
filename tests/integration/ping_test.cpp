// XEP-0199 from the server's side: bound clients are pinged; one that answers stays, one
// that does not is disconnected with <connection-timeout/>.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

TEST(Ping, TheServerPingsClientsAndDropsThoseThatDoNotAnswer) {
  TestServerOptions opts;
  opts.extra_config = "[host.ping]\ninterval = \"1s\"\ntimeout = \"1s\"\n";
  TestServer server(opts);
  server.add_user("alice@localhost", "pw");
  server.add_user("bob@localhost", "pw");
  auto alice = server.login("alice", "pw", "answers");
  auto bob = server.login("bob", "pw", "silent");

  // alice answers each ping; bob reads them but never answers.
  for (int round = 0; round < 2; ++round) {
    auto ping = alice->receive_named("iq", std::chrono::seconds(5));
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->attr("type"), "get");
    EXPECT_EQ(ping->attr("from"), "localhost");
    ASSERT_NE(ping->find_child("ping", "urn:xmpp:ping"), nullptr);
    alice->send("<iq type='result' to='localhost' id='" + std::string(ping->attr("id").value_or("")) + "'/>");
  }
  EXPECT_TRUE(bob->wait_closed(std::chrono::seconds(6)));
  EXPECT_EQ(bob->stream_error(), "connection-timeout");

  // alice is still connected and served.
  alice->send("<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::optional<server::xml::Element> reply;
  do {
    reply = alice->receive_named("iq", std::chrono::seconds(3));
  } while (reply && reply->attr("id") != "still");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->attr("type"), "result");
}

}  // namespace
}  // namespace parley::test
