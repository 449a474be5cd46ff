// Offline messages (XEP-0160) over real TLS against `parley serve`, written as transcripts:
// a message for an account with no available resource is kept, survives a restart, and
// arrives in order with a <delay/> stamp when the account next sends initial presence.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/restartable_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kDelayNs = "urn:xmpp:delay";

// Pings the server and returns the messages that arrived before the answer: everything the
// server had queued for this client by then.
std::vector<Element> sync(XmppClient& c) {
  static int n = 0;
  std::string id = "sync-" + std::to_string(++n);
  c.send("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::vector<Element> messages;
  for (;;) {
    auto e = c.receive(10s);
    if (!e) {
      ADD_FAILURE() << "no answer to the ping";
      return messages;
    }
    if (e->name() == "iq" && e->attr("id") == id) return messages;
    if (e->name() == "message") messages.push_back(std::move(*e));
  }
}

// The next `n` messages, or fewer if they do not come in time.
std::vector<Element> receive_messages(XmppClient& c, std::size_t n) {
  std::vector<Element> out;
  while (out.size() < n) {
    auto m = c.receive_named("message", 10s);
    if (!m) break;
    out.push_back(std::move(*m));
  }
  return out;
}

class Offline : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServerOptions options;
    options.modules = {"message", "offline", "carbons", "disco", "ping"};
    options.extra_config = "[host.offline]\nquota = 3\n";
    server_ = std::make_unique<RestartableServer>(options);
    for (const char* user : {"alice", "bob"}) server_->add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
  }
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, user + "-secret", resource);
  }
  // Alice sends `xml` and makes sure the server has dealt with it; returns what came back.
  std::vector<Element> alice_sends(XmppClient& alice, const std::string& xml) {
    alice.send(xml);
    return sync(alice);
  }

  std::unique_ptr<RestartableServer> server_;
};

void expect_delayed(const Element& m) {
  auto* delay = m.find_child("delay", kDelayNs);
  ASSERT_NE(delay, nullptr) << "no XEP-0203 <delay/> on a stored message";
  EXPECT_EQ(delay->attr("from"), "localhost");
  std::string stamp(delay->attr("stamp").value_or(""));
  EXPECT_TRUE(std::regex_match(stamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)"))) << stamp;
}

TEST_F(Offline, MessagesWaitForInitialPresenceAndArriveInOrderWithDelay) {
  auto alice = login("alice", "desk");
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='m1'><body>first</body></message>").empty());
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' id='m2'><body>second &amp; more</body></message>").empty());
  // To a resource that is not there: as if to the bare JID (RFC 6121 §8.5.3.2.1), so stored.
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost/gone' type='normal' id='m3'><body>third</body></message>").empty());

  auto bob = login("bob", "phone");
  EXPECT_TRUE(sync(*bob).empty()) << "stored messages arrive only after initial presence";
  bob->send("<presence/>");
  auto got = receive_messages(*bob, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].attr("id"), "m1");
  EXPECT_EQ(got[1].attr("id"), "m2");
  EXPECT_EQ(got[2].attr("id"), "m3");
  EXPECT_EQ(body(got[0]), "first");
  EXPECT_EQ(body(got[1]), "second & more");
  EXPECT_EQ(got[2].attr("to"), "bob@localhost/gone");
  for (const auto& m : got) {
    EXPECT_EQ(m.attr("from"), "alice@localhost/desk");
    expect_delayed(m);
  }

  // A presence update is not initial presence: nothing comes again.
  bob->send("<presence><show>away</show></presence>");
  EXPECT_FALSE(bob->receive_named("message", 1500ms));
  // And what was delivered was removed: a new session gets nothing.
  bob.reset();
  auto bob2 = login("bob", "laptop");
  bob2->send("<presence/>");
  EXPECT_FALSE(bob2->receive_named("message", 1500ms));

  // Once bob is online, messages go straight to him, without delay.
  alice->send("<message to='bob@localhost' type='chat' id='live'><body>now</body></message>");
  auto live = bob2->receive_named("message");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->attr("id"), "live");
  EXPECT_EQ(live->find_child("delay", kDelayNs), nullptr);
}

TEST_F(Offline, StoredMessagesSurviveARestart) {
  {
    auto alice = login("alice", "desk");
    EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='r1'><body>before</body></message>").empty());
    EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='r2'><body>the restart</body></message>").empty());
  }
  EXPECT_EQ(server_->restart(), 0) << "parley serve did not stop cleanly on SIGTERM";

  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  auto got = receive_messages(*bob, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].attr("id"), "r1");
  EXPECT_EQ(got[1].attr("id"), "r2");
  EXPECT_EQ(body(got[1]), "the restart");
  for (const auto& m : got) expect_delayed(m);
}

TEST_F(Offline, AFullMailboxAnswersTheSender) {
  auto alice = login("alice", "desk");
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='q" + std::to_string(i) +
                                        "'><body>fits</body></message>").empty());
  }
  auto replies = alice_sends(*alice, "<message to='bob@localhost' type='chat' id='q4'><body>too many</body></message>");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].attr("id"), "q4");
  EXPECT_EQ(replies[0].attr("from"), "bob@localhost");
  EXPECT_EQ(error_condition(replies[0]), "service-unavailable");  // XEP-0160 §2, step 3
  EXPECT_NE(error_text(replies[0]).find("full"), std::string::npos) << error_text(replies[0]);

  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  auto got = receive_messages(*bob, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].attr("id"), "q3");
  EXPECT_FALSE(bob->receive_named("message", 1s)) << "the refused message was stored after all";

  // Delivered messages no longer count: once bob is unavailable again, the mailbox takes
  // three more, and a second initial presence delivers them.
  bob->send("<presence type='unavailable'/>");
  EXPECT_TRUE(sync(*bob).empty());
  for (int i = 5; i <= 7; ++i) {
    EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='q" + std::to_string(i) +
                                        "'><body>room again</body></message>").empty());
  }
  replies = alice_sends(*alice, "<message to='bob@localhost' type='chat' id='q8'><body>full again</body></message>");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(error_condition(replies[0]), "service-unavailable");
  bob->send("<presence/>");
  got = receive_messages(*bob, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].attr("id"), "q5");
  EXPECT_EQ(got[2].attr("id"), "q7");
}

TEST_F(Offline, HeadlinesAreNotStoredAndNotBounced) {
  auto alice = login("alice", "desk");
  // RFC 6121 §8.5.2.2.2, XEP-0160 §3: a headline for an offline account is dropped silently.
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='headline' id='h1'><body>news</body></message>").empty());
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='c1'><body>chat</body></message>").empty());

  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  auto first = bob->receive_named("message");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attr("id"), "c1") << "the headline was stored";
  EXPECT_FALSE(bob->receive_named("message", 1s));
}

TEST_F(Offline, MessagesToAnAccountThatDoesNotExistAreRefused) {
  auto alice = login("alice", "desk");
  for (const char* to : {"nobody@localhost", "nobody@localhost/phone"}) {
    auto replies = alice_sends(*alice, std::string("<message to='") + to + "' type='chat' id='x'><body>hello?</body></message>");
    ASSERT_EQ(replies.size(), 1u) << to;
    EXPECT_EQ(error_condition(replies[0]), "service-unavailable") << to;
  }
}

TEST_F(Offline, OnlyNonNegativePresenceReceivesStoredMessages) {
  auto bob = login("bob", "phone");
  bob->send("<presence><priority>-1</priority></presence>");
  EXPECT_TRUE(sync(*bob).empty());

  auto alice = login("alice", "desk");
  // A resource with negative priority never receives bare-JID messages (RFC 6121 §8.5.2.1.1):
  // the message is stored, not bounced and not delivered.
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='n1'><body>later</body></message>").empty());
  EXPECT_TRUE(sync(*bob).empty());

  bob->send("<presence><priority>0</priority></presence>");
  auto m = bob->receive_named("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("id"), "n1");
  expect_delayed(*m);
}

TEST_F(Offline, ChatStatesAreDroppedAndNoStoreIsRefused) {
  auto alice = login("alice", "desk");
  // XEP-0160 §3: chat state notifications alone are not stored (and not bounced).
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='s1'>"
                                  "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>").empty());
  // XEP-0334 <no-store/>: not stored, so the sender hears that nobody took it.
  auto replies = alice_sends(*alice, "<message to='bob@localhost' type='chat' id='s2'><body>now or never</body>"
                                     "<no-store xmlns='urn:xmpp:hints'/></message>");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].attr("id"), "s2");
  EXPECT_EQ(error_condition(replies[0]), "service-unavailable");
  // <no-permanent-store/> still allows offline storage.
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='chat' id='s3'><body>keep briefly</body>"
                                  "<no-permanent-store xmlns='urn:xmpp:hints'/></message>").empty());

  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  auto m = bob->receive_named("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("id"), "s3");
  EXPECT_FALSE(bob->receive_named("message", 1s));
}

TEST_F(Offline, GroupchatAndErrorsAreNotStored) {
  auto alice = login("alice", "desk");
  auto replies = alice_sends(*alice, "<message to='bob@localhost' type='groupchat' id='g1'><body>room</body></message>");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(error_condition(replies[0]), "service-unavailable");
  EXPECT_TRUE(alice_sends(*alice, "<message to='bob@localhost' type='error' id='e1'>"
                                  "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                                  "</error></message>").empty());
  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  EXPECT_FALSE(bob->receive_named("message", 1500ms));
}

TEST_F(Offline, DiscoAdvertisesMsgoffline) {
  auto alice = login("alice", "desk");
  alice->send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto d = alice->receive_named("iq");
  ASSERT_TRUE(d && d->attr("type") == "result");
  std::vector<std::string> features;
  for (const auto& f : d->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    if (f.name() == "feature") features.emplace_back(f.attr("var").value_or(""));
  }
  EXPECT_NE(std::find(features.begin(), features.end(), "msgoffline"), features.end());  // XEP-0160 §4
}

}  // namespace
}  // namespace parley::test
