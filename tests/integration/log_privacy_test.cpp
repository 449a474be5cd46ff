// What the server writes to its log (standard error) while people log in and chat: never a
// password, the server secret or a message body (DESIGN.md, security policy; server/log.hpp),
// not even at log_level = "debug".
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "server/crypto.hpp"
#include "tests/support/restartable_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The base64 of a SASL PLAIN message (RFC 4616 §2), as it travels in <auth/>.
std::string plain_message(const std::string& user, const std::string& password) {
  return server::crypto::base64_encode(std::string("\0", 1) + user + std::string("\0", 1) + password);
}

TEST(LogPrivacy, NoPasswordSecretOrBodyInTheLog) {
  const std::string wrong = "wr0ng-Pa55word-q7Xz";
  const std::string right = "r1ght-Pa55word-k3Vw";
  const std::string secret_body = "the-secret-body-m9Jt";

  TestServerOptions options;
  options.modules = {"message", "offline", "mam", "disco", "ping"};
  RestartableServer server(options);
  server.add_user("alice@localhost", right);
  server.add_user("bob@localhost", "bob-pw");
  server.add_user("carol@localhost", "carol-pw");
  // The most talkative level, where a careless line would show first.
  std::string config = read_file(server.first().config_file());
  ASSERT_NE(config.find("[server]\n"), std::string::npos);
  config.replace(config.find("[server]\n"), 9, "[server]\nlog_level = \"debug\"\n");
  std::ofstream(server.first().config_file(), std::ios::trunc) << config;
  server.restart();

  // alice types a wrong password, then the right one, with PLAIN: the one mechanism that
  // sends the password itself (over TLS).
  XmppClient alice(server.client());
  ASSERT_TRUE(alice.connect_tls());
  EXPECT_EQ(alice.authenticate("PLAIN", "alice", wrong), "not-authorized");
  ASSERT_EQ(alice.authenticate("PLAIN", "alice", right), "");
  ASSERT_TRUE(alice.restart_stream());
  ASSERT_EQ(alice.bind("desk"), "alice@localhost/desk");
  auto bob = server.login("bob", "bob-pw", "phone");

  // The body to a session, to an account with nobody online (stored offline, archived),
  // and to an account that does not exist (bounced with the body).
  alice.send("<message to='bob@localhost/phone' type='chat' id='m1'><body>" + secret_body + "</body></message>");
  alice.send("<message to='carol@localhost' type='chat' id='m2'><body>" + secret_body + "</body></message>");
  alice.send("<message to='nobody@localhost' type='chat' id='m3'><body>" + secret_body + "</body></message>");
  auto got = bob->receive_named("message");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(body(*got), secret_body);
  auto bounced = alice.receive_named("message");
  ASSERT_TRUE(bounced.has_value());
  EXPECT_EQ(bounced->attr("id"), "m3");
  alice.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  ASSERT_TRUE(alice.receive_named("iq", 10s).has_value());

  // The log saw all of it (so the checks below look at a log that had the chance to leak).
  const std::string stored = "debug   offline: stored a message for carol@localhost";
  for (int i = 0; i < 100 && server.log().find(stored) == std::string::npos; ++i) std::this_thread::sleep_for(50ms);
  const std::string log = server.log();
  EXPECT_NE(log.find("authentication failed"), std::string::npos) << log;
  EXPECT_NE(log.find("authenticated as alice@localhost"), std::string::npos) << log;
  EXPECT_NE(log.find(stored), std::string::npos) << log;

  for (const auto& password : {wrong, right}) {
    EXPECT_EQ(log.find(password), std::string::npos) << "a password is in the log:\n" << log;
    EXPECT_EQ(log.find(plain_message("alice", password)), std::string::npos) << "a PLAIN message is in the log";
  }
  EXPECT_EQ(log.find(secret_body), std::string::npos) << "a message body is in the log:\n" << log;
  std::string key = read_file(server.first().dir() + "/var/secret.key");
  ASSERT_EQ(key.size(), 32u);
  EXPECT_EQ(log.find(key), std::string::npos) << "the server secret is in the log";
  EXPECT_EQ(log.find(server::crypto::hex(key)), std::string::npos) << "the server secret is in the log";
  EXPECT_EQ(log.find(server::crypto::base64_encode(key)), std::string::npos) << "the server secret is in the log";
}

}  // namespace
}  // namespace parley::test
