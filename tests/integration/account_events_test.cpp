// user/created and user/deleted (module_api.hpp) as a user observes them, over real TLS
// against `parley serve`: an account removed (by XEP-0077, or by `parley user del` in
// another process) and created again under the same name starts clean; nothing of the old
// account's blocklist (XEP-0191) or archiving preferences (XEP-0441) is left in the
// modules' caches. And the sessions of an account deleted from the command line end.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

constexpr const char* kRegisterNs = "jabber:iq:register";

std::size_t archive_ids(const Element& m) {
  std::size_t n = 0;
  for (const auto& c : m.children()) n += c.name() == "stanza-id" && c.ns() == "urn:xmpp:sid:0";
  return n;
}

std::string chat(const std::string& to, const std::string& text) {
  return "<message type='chat' to='" + to + "'><body>" + text + "</body></message>";
}

// XEP-0077 §3.1 on a fresh connection, before logging in.
void register_account(TestServer& server, const std::string& user, const std::string& password) {
  XmppClient c(server.client());
  ASSERT_TRUE(c.connect_tls());
  c.send("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>" + user + "</username><password>" +
         password + "</password></query></iq>");
  auto r = c.receive_named("iq", 10s);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->attr("type"), "result") << error_condition(*r);
}

class AccountEvents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "register", "blocking", "mam", "disco", "ping"};
    options.extra_config = "[host.register]\nper_address_per_hour = 1000\n";
    server_ = new TestServer(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    static int n = 0;
    ++n;
    alice_ = "alice" + std::to_string(n);
    bob_ = "bob" + std::to_string(n);
    server_->add_user(bob_ + "@localhost", "secret");
  }
  std::unique_ptr<Transcript> login(const std::string& user, const std::string& password) {
    auto t = std::make_unique<Transcript>(server_->login(user, password, "desk"));
    t->send("<presence/>");
    t->barrier();
    return t;
  }
  std::string alice_bare() const { return alice_ + "@localhost"; }

  // The old alice archives nothing (default 'never') and blocks bob; both take effect, and
  // both are in the modules' caches now.
  void old_account_settles_in(Transcript& alice, Transcript& bob) {
    auto prefs = alice.iq("p1", "<iq type='set' id='p1'><prefs xmlns='urn:xmpp:mam:2' default='never'/></iq>");
    ASSERT_EQ(prefs.attr("type"), "result") << error_condition(prefs);
    bob.send(chat(alice_bare(), "one"));
    auto one = alice.expect(message_with_body("one"));
    ASSERT_TRUE(one) << alice.kept();
    EXPECT_EQ(archive_ids(*one), 0u) << "'never': not archived";

    auto block = alice.iq("b1", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='" + bob.bare() +
                                    "'/></block></iq>");
    ASSERT_EQ(block.attr("type"), "result") << error_condition(block);
    bob.send(chat(alice_bare(), "two"));
    ASSERT_TRUE(bob.expect(error_of("message", "service-unavailable"))) << "blocked: " << bob.kept();
  }

  // The new alice: an empty blocklist, and archiving by the default ('always').
  void new_account_starts_clean(Transcript& alice, Transcript& bob) {
    auto list = alice.iq("l1", "<iq type='get' id='l1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
    ASSERT_EQ(list.attr("type"), "result") << error_condition(list);
    auto* items = list.find_child("blocklist", "urn:xmpp:blocking");
    ASSERT_NE(items, nullptr);
    EXPECT_TRUE(items->children().empty()) << "the old account's blocklist is gone";

    auto prefs = alice.iq("p2", "<iq type='get' id='p2'><prefs xmlns='urn:xmpp:mam:2'/></iq>");
    auto* p = prefs.find_child("prefs", "urn:xmpp:mam:2");
    ASSERT_NE(p, nullptr) << error_condition(prefs);
    EXPECT_EQ(p->attr("default"), "always");

    bob.send(chat(alice_bare(), "three"));
    auto three = alice.expect(message_with_body("three"));
    ASSERT_TRUE(three) << "bob is not blocked any more: " << alice.kept() << bob.kept();
    EXPECT_EQ(archive_ids(*three), 1u) << "archived under the default 'always', not the old 'never'";
    bob.barrier();
    EXPECT_EQ(bob.count(error_of("message", "service-unavailable")), 0u) << bob.kept();
  }

  static TestServer* server_;
  std::string alice_, bob_;
};
TestServer* AccountEvents::server_ = nullptr;

TEST_F(AccountEvents, AnAccountRemovedInBandAndRegisteredAgainInheritsNothing) {
  register_account(*server_, alice_, "first secret");
  auto bob = login(bob_, "secret");
  {
    auto alice = login(alice_, "first secret");
    old_account_settles_in(*alice, *bob);
    // XEP-0077 §3.2: the account goes.
    auto removed = alice->iq("u1", "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    ASSERT_EQ(removed.attr("type"), "result") << error_condition(removed);
    EXPECT_TRUE(alice->client().wait_closed());
  }
  register_account(*server_, alice_, "second secret");
  auto alice = login(alice_, "second secret");
  new_account_starts_clean(*alice, *bob);
}

TEST_F(AccountEvents, AnAccountDeletedByTheCommandLineIsForgottenByTheRunningServer) {
  server_->add_user(alice_bare(), "first secret");
  auto bob = login(bob_, "secret");
  auto alice = login(alice_, "first secret");
  old_account_settles_in(*alice, *bob);

  // Another process deletes the account while alice is logged in.
  auto del = parley({"user", "del", alice_bare(), "--yes", "--config", server_->config_file()});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  // The server heard of it: alice's session ends as an in-band removal would end it.
  EXPECT_TRUE(alice->client().wait_closed(10s));
  EXPECT_EQ(alice->client().stream_error(), "not-authorized");

  server_->add_user(alice_bare(), "second secret");
  auto again = login(alice_, "second secret");
  new_account_starts_clean(*again, *bob);
}

// user/created too: mam remembers for a while that an account does not exist (so that
// messages to it are not archived); an account created from the command line right after
// such a message archives at once.
TEST_F(AccountEvents, AnAccountCreatedByTheCommandLineArchivesAtOnce) {
  auto bob = login(bob_, "secret");
  bob->send(chat(alice_bare(), "before alice existed"));
  ASSERT_TRUE(bob->expect(error_of("message", "service-unavailable"))) << bob->kept();

  server_->add_user(alice_bare(), "secret");
  ASSERT_TRUE(server_->process().wait_for_stderr("account " + alice_bare() + " was created by another process", 10))
      << server_->process().stderr_text();
  auto alice = login(alice_, "secret");
  bob->send(chat(alice_bare(), "now she does"));
  auto m = alice->expect(message_with_body("now she does"));
  ASSERT_TRUE(m) << alice->kept();
  EXPECT_EQ(archive_ids(*m), 1u) << "archived: the account exists";
}

// blocking caches the list of an account that has no session too (a stanza to it needs the
// check): only user/deleted and user/created drop that. Bob's message to the offline alice
// puts her list in the cache; the account is deleted and created again from the command line
// with nobody logged in; the new alice must not inherit the old list.
TEST_F(AccountEvents, AnOfflineAccountsCachedBlocklistDoesNotOutliveTheAccount) {
  server_->add_user(alice_bare(), "first secret");
  auto bob = login(bob_, "secret");
  {
    auto alice = login(alice_, "first secret");
    auto block = alice->iq("b1", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='" + bob->bare() +
                                     "'/></block></iq>");
    ASSERT_EQ(block.attr("type"), "result") << error_condition(block);
    alice->send("</stream:stream>");
    EXPECT_TRUE(alice->client().wait_closed());
    // Her session is gone, and with it the list cached for it (session/closed).
    ASSERT_TRUE(server_->process().wait_for_stderr("c2s " + alice_bare() + "/desk closed", 10))
        << server_->process().stderr_text();
  }
  // Checking bob's message loads the offline alice's list into the cache (refused: she blocks
  // him, and is offline anyway).
  bob->send(chat(alice_bare(), "are you there"));
  ASSERT_TRUE(bob->expect(error_of("message", "service-unavailable"))) << bob->kept();

  auto del = parley({"user", "del", alice_bare(), "--yes", "--config", server_->config_file()});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  ASSERT_TRUE(server_->process().wait_for_stderr("account " + alice_bare() + " was deleted by another process", 10))
      << server_->process().stderr_text();
  server_->add_user(alice_bare(), "second secret");
  ASSERT_TRUE(server_->process().wait_for_stderr("account " + alice_bare() + " was created by another process", 10))
      << server_->process().stderr_text();

  auto alice = login(alice_, "second secret");
  auto list = alice->iq("l1", "<iq type='get' id='l1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
  ASSERT_EQ(list.attr("type"), "result") << error_condition(list);
  auto* items = list.find_child("blocklist", "urn:xmpp:blocking");
  ASSERT_NE(items, nullptr);
  EXPECT_TRUE(items->children().empty()) << "the old account's blocklist is gone";
  bob->send(chat(alice_bare(), "hello again"));
  EXPECT_TRUE(alice->expect(message_with_body("hello again"))) << "bob is not blocked: " << alice->kept() << bob->kept();
}

}  // namespace
}  // namespace parley::test
