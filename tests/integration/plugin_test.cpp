// Third-party modules: a shared object named in [server] plugins, enabled per host by name,
// with its own settings table.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

TEST(Plugin, ASharedObjectModuleAnswersWithItsSettings) {
  TestServerOptions opts;
  opts.plugins = {PARLEY_TEST_PLUGIN};
  opts.modules.push_back("hello");
  opts.extra_config = "[host.hello]\ngreeting = \"bonjour\"\n";
  TestServer server(opts);
  server.add_user("alice@localhost", "pw");
  auto alice = server.login("alice", "pw");
  alice->send("<iq type='get' id='h1' to='localhost'><hello xmlns='urn:example:hello'/></iq>");
  auto reply = alice->receive_named("iq");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->attr("type"), "result");
  auto* hello = reply->find_child("hello", "urn:example:hello");
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->text(), "bonjour");
}

// A module takes a remote domain through route/remote, before federation would.
TEST(Plugin, AModuleTakesARemoteDomainThroughRouteRemote) {
  TestServerOptions opts;
  opts.plugins = {PARLEY_TEST_PLUGIN};
  opts.modules.push_back("hello");
  TestServer server(opts);
  server.add_user("alice@localhost", "pw");
  auto alice = server.login("alice", "pw");
  alice->send("<message to='bot@echo.example' type='chat' id='e1'><body>ping</body></message>");
  auto echo = alice->receive_named("message");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->attr("from"), "bot@echo.example");
  EXPECT_EQ(echo->attr("type"), "chat");
  // Other remote domains are not its business: with federation off they bounce.
  alice->send("<message to='bot@elsewhere.example' type='chat' id='e2'><body>ping</body></message>");
  auto bounce = alice->receive_named("message");
  ASSERT_TRUE(bounce);
  EXPECT_EQ(bounce->attr("type"), "error");
  EXPECT_EQ(bounce->attr("id"), "e2");
}

TEST(Plugin, AMistypedModuleSettingStopsStartUpNamingKeyAndLine) {
  TempDir dir;
  TestDatabase db;
  ASSERT_EQ(parley({"cert", "dev", "--out", dir / "certs", "--domain", "localhost"}).exit_code, 0);
  write_file(dir / "parley.toml",
             "[server]\nplugins = [\"" + std::string(PARLEY_TEST_PLUGIN) + "\"]\n"
             "[database]\nurl = \"" + db.conninfo() + "\"\n"
             "[[host]]\ndomain = \"localhost\"\nmodules = [\"hello\"]\n"
             "[host.hello]\ngretting = \"typo\"\n");
  auto r = parley({"serve", "--config", dir / "parley.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("parley.toml:9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown key 'host[0].hello.gretting'"), std::string::npos) << r.err;
}

TEST(Plugin, AMissingPluginIsAClearError) {
  TempDir dir;
  write_file(dir / "parley.toml", "[server]\nplugins = [\"/nonexistent/libnothing.so\"]\n");
  auto r = parley({"check", "--config", dir / "parley.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot load plugin /nonexistent/libnothing.so"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace parley::test
