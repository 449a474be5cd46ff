// Login abuse (issue 6): failed logins slow down later attempts from the same address and
// for the same account, without locking anyone out; sign-ins are recorded in PostgreSQL and
// purged after their retention; signin_notice tells a user about a new client and network.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <pqxx/pqxx>

#include "tests/support/restartable_server.hpp"
#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One PLAIN attempt on a fresh connection; the time it took and whether it succeeded.
std::pair<Clock::duration, bool> attempt(const ClientOptions& o, const std::string& user, const std::string& pw) {
  XmppClient c(o);
  if (!c.connect_tls()) throw std::runtime_error("no TLS");
  auto start = Clock::now();
  bool ok = c.authenticate("PLAIN", user, pw).empty();
  return {Clock::now() - start, ok};
}

TEST(LoginAbuse, FailedLoginsGrowDelaysButNeverLockOut) {
  TestServerOptions o;
  o.security = "failed_login_delay = 400\nfailed_login_delay_max = 1600\n";
  TestServer server(o);
  server.add_user("alice@localhost", "right");
  auto client = server.client();
  // Two free failures, a third checked at once; then 400 ms, 800 ms. Lower bounds only (a
  // slow machine is slower).
  for (const char* pw : {"wrong1", "wrong2", "wrong3"}) EXPECT_FALSE(attempt(client, "alice", pw).second);
  auto [fourth, ok4] = attempt(client, "alice", "wrong4");
  EXPECT_FALSE(ok4);
  EXPECT_GE(fourth, 400ms);
  // The right password still works (a delay, not a lockout), and clears the account.
  auto [right, ok] = attempt(client, "alice", "right");
  EXPECT_TRUE(ok);
  EXPECT_GE(right, 800ms);
  EXPECT_NE(server.process().stderr_text().find("earlier failed logins: waiting"), std::string::npos);
}

TEST(LoginAbuse, AnUnknownAccountIsDelayedLikeAKnownOne) {
  TestServerOptions o;
  o.security = "failed_login_delay = 400\n";
  TestServer server(o);
  auto client = server.client();
  for (int i = 0; i < 3; ++i) attempt(client, "nobody", "guess");
  auto [took, ok] = attempt(client, "nobody", "guess");
  EXPECT_FALSE(ok);
  EXPECT_GE(took, 400ms);
}

std::size_t count(const TestServer& server, const std::string& where) {
  pqxx::connection c(server.database().conninfo());
  pqxx::read_transaction tx(c);
  return tx.exec1("SELECT count(*) FROM signins WHERE " + where)[0].as<std::size_t>();
}

TEST(LoginAbuse, SigninsAreRecordedAndPurgedAfterTheirRetention) {
  TestServerOptions o;
  o.security += "signin_retention_days = 30\n";
  RestartableServer server(o);
  server.add_user("alice@localhost", "right");
  { XmppClient c(server.client()); c.connect_tls(); EXPECT_EQ(c.authenticate("PLAIN", "alice", "wrong"), "not-authorized"); }
  auto alice = server.login("alice", "right", "phone");
  const TestServer& t = server.first();
  // The rows are written beside the login: wait a moment for them.
  for (int i = 0; i < 50 && count(t, "success") == 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count(t, "username = 'alice' AND success AND resource = 'phone' AND address = '127.0.0.1'"), 1u);
  EXPECT_EQ(count(t, "username = 'alice' AND NOT success AND resource IS NULL"), 1u);
  {
    pqxx::connection c(t.database().conninfo());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO signins (server_host, username, at, address, resource, success)"
             " VALUES ('localhost', 'alice', now() - interval '31 days', '192.0.2.1', 'old', true)");
    tx.commit();
  }
  EXPECT_EQ(count(t, "resource = 'old'"), 1u);
  server.restart();  // the purge runs at start (then hourly)
  for (int i = 0; i < 50 && count(t, "resource = 'old'") > 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count(t, "resource = 'old'"), 0u);
  EXPECT_EQ(count(t, "resource = 'phone'"), 1u);
}

TEST(LoginAbuse, ANewClientOnANewNetworkIsReported) {
  TestServerOptions o;
  o.modules = {"message", "offline", "signin_notice", "ping"};
  TestServer server(o);
  server.add_user("alice@localhost", "right");
  {
    auto first = server.login("alice", "right", "phone");  // no history: no notice
    first->send("<presence/>");
    EXPECT_FALSE(first->receive_named("message", 1500ms));
  }
  // Same address (127.0.0.1, a seen network) with a new client: not worth a notice.
  {
    auto second = server.login("alice", "right", "laptop");
    second->send("<presence/>");
    EXPECT_FALSE(second->receive_named("message", 1500ms));
  }
  // A new client from a network not seen: pretend the earlier sign-ins came from elsewhere.
  {
    pqxx::connection c(server.database().conninfo());
    pqxx::work tx(c);
    tx.exec0("UPDATE signins SET address = '192.0.2.1'");
    tx.commit();
  }
  auto third = server.login("alice", "right", "tablet");
  third->send("<presence/>");
  auto notice = third->receive_named("message", 10s);
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->attr("from"), "localhost");
  EXPECT_NE(body(*notice).find("'tablet'"), std::string::npos) << body(*notice);
  EXPECT_NE(body(*notice).find("127.0.0.1"), std::string::npos) << body(*notice);
}

}  // namespace
}  // namespace parley::test
