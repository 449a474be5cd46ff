// Database faults (docs/security.md, "When the database goes away"): PostgreSQL is stopped
// under a running `parley serve` and started again. Written as transcripts over real TLS:
// what needs no storage keeps working (pings, delivery between online clients), what needs
// it fails at once with a clear error (internal-server-error, temporary-auth-failure, a
// bounced offline message), and once the database is back everything works again without a
// restart of parley, with nothing lost that was acknowledged before.
//
// Each test owns its PostgreSQL cluster (tests/support/test_postgres.sh in a temporary
// directory), so stopping it disturbs no other test.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const std::string kScript = std::string(PARLEY_SOURCE_DIR) + "/tests/support/test_postgres.sh";

// A PostgreSQL cluster of the test's own, with a unix socket in a temporary directory.
class OwnCluster {
 public:
  OwnCluster() : pg_(dir_ / "pg") {
    auto r = run({kScript, "start", pg_});
    if (r.exit_code != 0) throw std::runtime_error("cannot start PostgreSQL: " + r.err);
  }
  ~OwnCluster() { run({kScript, "stop", pg_}); }
  std::string conninfo() const { return "host=" + pg_ + " user=postgres dbname=postgres"; }
  void halt() { ASSERT_EQ(run({kScript, "halt", pg_}).exit_code, 0) << "pg_ctl stop failed"; }
  void resume() { ASSERT_EQ(run({kScript, "resume", pg_}).exit_code, 0) << "pg_ctl start failed"; }

 private:
  TempDir dir_;
  std::string pg_;
};

// A logged-in client (a Transcript) with the questions this test asks: an iq answered
// within a bound or not at all, a message by id, a ping to the server.
class User : public Transcript {
 public:
  using Transcript::Transcript;
  std::optional<Element> iq(const std::string& id, const std::string& xml, std::chrono::milliseconds timeout = 10s) {
    return try_iq(id, xml, timeout);
  }
  std::optional<Element> message(const std::string& id, std::chrono::milliseconds timeout = 10s) {
    return expect([&](const Element& e) { return e.name() == "message" && e.attr("id") == id; }, timeout);
  }
  // A ping to the server, answered within `timeout`: the network side is alive.
  bool ping(std::chrono::milliseconds timeout) {
    std::string id = "ping" + std::to_string(++pings_);
    auto r = iq(id, "<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", timeout);
    return r && r->attr("type") == "result";
  }
  std::size_t kept_messages() const {
    return count([](const Element& e) { return e.name() == "message"; });
  }

 private:
  int pings_ = 0;
};

std::string roster_get(const std::string& id) {
  return "<iq type='get' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>";
}

std::string chat(const std::string& to, const std::string& id, const std::string& text) {
  return "<message to='" + to + "' id='" + id + "' type='chat'><body>" + text + "</body></message>";
}

// The error of a stanza is <internal-server-error/> of type wait (retry later).
void expect_internal_error_wait(const std::optional<Element>& answer, const std::string& what) {
  ASSERT_TRUE(answer.has_value()) << what << ": no answer in time";
  EXPECT_EQ(answer->attr("type"), "error") << what;
  EXPECT_EQ(error_condition(*answer), "internal-server-error") << what;
  auto* error = answer->find_child("error", "jabber:client");
  ASSERT_NE(error, nullptr) << what;
  EXPECT_EQ(error->attr("type"), "wait") << what;
}

bool has_item(const Element& roster, const std::string& jid) {
  auto* q = roster.find_child("query", "jabber:iq:roster");
  if (q == nullptr) return false;
  for (const auto& item : q->children()) {
    if (item.attr("jid") == jid) return true;
  }
  return false;
}

class DbFault : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServerOptions options;
    options.cluster = cluster_.conninfo();
    options.modules = {"message", "roster", "presence", "offline", "mam", "vcard", "private", "blocking", "disco", "ping"};
    // Short bounds, so that the test stays short; a failed-login delay, to show that logins
    // refused for want of a database do not count as failures.
    options.database = "acquire_timeout = 2000\nreconnect_delay_max = 500\n";
    options.security = "failed_login_delay = 1000\n";
    server_ = std::make_unique<TestServer>(options);
    for (const char* user : {"alice", "bob", "carol", "erin"}) {
      server_->add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
    }
  }
  std::unique_ptr<User> login(const std::string& user, const std::string& resource) {
    auto u = std::make_unique<User>(server_->login(user, user + "-secret", resource));
    u->send("<presence/>");
    return u;
  }
  // A SASL PLAIN attempt on a fresh connection: "" on success, else the failure condition.
  std::string try_login(const std::string& user, const std::string& password) {
    XmppClient c(server_->client());
    if (!c.connect_tls()) return "no stream";
    return c.authenticate("PLAIN", user, password);
  }

  OwnCluster cluster_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DbFault, ServesWhatNeedsNoDatabaseFailsTheRestClearlyAndRecoversWithoutRestart) {
  auto alice = login("alice", "desk");
  auto bob = login("bob", "phone");

  // Before: what is acknowledged now must survive the outage.
  auto added = alice->iq("r1", "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='dave@localhost' "
                               "name='Dave'/></query></iq>");
  ASSERT_TRUE(added && added->attr("type") == "result");
  alice->send(chat("carol@localhost", "before", "stored while carol is away"));
  ASSERT_TRUE(alice->ping(10s));  // no bounce came before the answer: stored
  EXPECT_EQ(alice->kept_messages(), 0u);
  alice->send(chat("bob@localhost", "hello", "hello bob"));
  ASSERT_TRUE(bob->message("hello").has_value());

  cluster_.halt();

  // The network side never waits for the database: pings are answered, and a message between
  // two online clients is delivered (archiving it waits for the database on the side).
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(alice->ping(3s)) << "ping " << i << " while the database is down";
  alice->send(chat("bob@localhost", "during", "still there?"));
  EXPECT_TRUE(bob->message("during", 5s).has_value()) << "delivery between online clients stalled";

  // What needs storage fails within the bound ([database] acquire_timeout) with
  // internal-server-error, type wait.
  expect_internal_error_wait(alice->iq("r2", roster_get("r2")), "roster get");
  expect_internal_error_wait(alice->iq("v1", "<iq type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>"), "vCard get");
  expect_internal_error_wait(
      alice->iq("p1", "<iq type='get' id='p1'><query xmlns='jabber:iq:private'><prefs xmlns='x:test'/></query></iq>"),
      "private XML get");
  // (A blocklist get may be answered from the cache; changing the list needs the database.)
  expect_internal_error_wait(
      alice->iq("b1", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='spam@example.com'/></block></iq>"),
      "block");
  expect_internal_error_wait(alice->iq("m1", "<iq type='set' id='m1'><query xmlns='urn:xmpp:mam:2' queryid='m1'/></iq>"),
                             "MAM query");

  // A message for an account with no resource online cannot be stored: it bounces.
  alice->send(chat("erin@localhost", "lost", "cannot be stored now"));
  auto bounce = alice->message("lost");
  expect_internal_error_wait(bounce, "offline message");

  // A new login cannot check its credentials: temporary-auth-failure, not not-authorized,
  // however often it is tried.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(try_login("carol", "carol-secret"), "temporary-auth-failure") << "attempt " << i;

  EXPECT_TRUE(alice->ping(3s)) << "ping after the failed requests";

  cluster_.resume();

  // The pool reconnects by itself: the roster answers again (within a few reconnect delays).
  std::optional<Element> roster;
  for (int i = 0; i < 40; ++i) {
    roster = alice->iq("rg" + std::to_string(i), roster_get("rg" + std::to_string(i)));
    if (roster && roster->attr("type") == "result") break;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(roster && roster->attr("type") == "result") << "roster get never recovered";
  EXPECT_TRUE(has_item(*roster, "dave@localhost")) << "an acknowledged roster change was lost";

  // Logins work again, without a delay for the refused ones (the throttle did not count them),
  // and the message stored before the outage arrives, once.
  auto carol = login("carol", "laptop");
  auto stored = carol->message("before");
  ASSERT_TRUE(stored.has_value()) << "an offline message stored before the outage was lost";
  EXPECT_EQ(body(*stored), "stored while carol is away");
  EXPECT_TRUE(carol->ping(10s));
  EXPECT_EQ(carol->kept_messages(), 0u);
  EXPECT_EQ(server_->process().stderr_text().find("earlier failed logins"), std::string::npos)
      << "logins refused for want of a database were counted as failed logins";

  // Offline storage works again.
  alice->send(chat("erin@localhost", "after", "stored again"));
  ASSERT_TRUE(alice->ping(10s));
  EXPECT_EQ(alice->kept_messages(), 0u) << "the offline message after the outage bounced";
  auto erin = login("erin", "tablet");
  auto after = erin->message("after");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(body(*after), "stored again");
  EXPECT_FALSE(erin->message("lost", 1s).has_value()) << "a bounced message was delivered after all";

  // The operator was told both ways.
  const std::string& log = server_->process().stderr_text();
  EXPECT_NE(log.find("database unreachable: "), std::string::npos) << log;
  EXPECT_NE(log.find("database reachable again"), std::string::npos) << log;
}

// `parley serve` started while its database is down waits for it (a line in the log per
// attempt) and becomes ready once it is there; SIGTERM ends the wait; with startup_timeout
// it gives up.
TEST_F(DbFault, StartWaitsForTheDatabase) {
  ASSERT_EQ(server_->process().stop(SIGTERM), 0);
  cluster_.halt();
  {
    Background waiting({PARLEY_BINARY, "serve", "--config", server_->config_file()});
    ASSERT_TRUE(waiting.wait_for_stderr("database unreachable at start", 30)) << waiting.stderr_text();
    EXPECT_EQ(waiting.stop(SIGTERM), 0) << "SIGTERM while waiting for the database should end the server";
  }
  {
    // With [database] startup_timeout, it gives up after that long, with status 1.
    std::string config = read_file(server_->config_file());
    config.replace(config.find("[database]\n"), 11, "[database]\nstartup_timeout = 1\n");
    write_file(server_->dir() + "/bounded.toml", config);
    Background giving_up({PARLEY_BINARY, "serve", "--config", server_->dir() + "/bounded.toml"});
    ASSERT_TRUE(giving_up.wait_for_stderr("([database] startup_timeout)", 30)) << giving_up.stderr_text();
    EXPECT_EQ(giving_up.stop(SIGTERM), 1);
  }
  Background serving({PARLEY_BINARY, "serve", "--config", server_->config_file()});
  ASSERT_TRUE(serving.wait_for_stderr("database unreachable at start", 30)) << serving.stderr_text();
  cluster_.resume();
  ASSERT_TRUE(serving.wait_for_stderr(" ready", 60)) << serving.stderr_text();
  EXPECT_EQ(serving.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace parley::test
