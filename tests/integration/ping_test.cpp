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

TEST(Ping, AnActiveClientIsNotPinged) {
  TestServerOptions opts;
  opts.extra_config = "[host.ping]\ninterval = \"1s\"\ntimeout = \"1s\"\n";
  TestServer server(opts);
  server.add_user("carol@localhost", "pw");
  auto carol = server.login("carol", "pw", "busy");
  // Whitespace keepalives every 300 ms for 4 s: she is never silent for a whole interval.
  for (int i = 0; i < 13; ++i) {
    carol->send(" ");
    auto got = carol->receive_named("iq", std::chrono::milliseconds(300));
    EXPECT_FALSE(got) << "pinged although active";
  }
  // Once she stops, the ping comes.
  auto ping = carol->receive_named("iq", std::chrono::seconds(5));
  ASSERT_TRUE(ping);
  EXPECT_NE(ping->find_child("ping", "urn:xmpp:ping"), nullptr);
}

}  // namespace
}  // namespace parley::test
