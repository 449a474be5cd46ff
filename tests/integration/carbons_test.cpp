// Message Carbons (XEP-0280) over real TLS against `parley serve`, written as transcripts:
// alice has several resources; what one sends or receives is copied to the others that
// enabled carbons, and to nobody else.
//
// "Receives nothing" is observed without sleeping: copies are queued for a session while the
// original is routed, so once the sender's own ping is answered, a ping by the watching
// client is answered only after anything queued for it before.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kCarbonsNs = "urn:xmpp:carbons:2";
const char* kForwardNs = "urn:xmpp:forward:0";

// Pings the server and returns the messages that arrived before the answer.
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

// The message inside a carbon: <message><DIRECTION xmlns=carbons><forwarded><message/>.
const Element* forwarded(const Element& carbon, const char* direction) {
  auto* d = carbon.find_child(direction, kCarbonsNs);
  auto* f = d ? d->find_child("forwarded", kForwardNs) : nullptr;
  return f ? f->find_child("message", "jabber:client") : nullptr;
}

class Carbons : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "offline", "carbons", "disco", "ping"};
    server_ = new TestServer(options);
    server_->add_user("alice@localhost", "alice-secret");
    server_->add_user("bob@localhost", "bob-secret");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, user + "-secret", resource);
  }
  // Sends an enable or disable request and expects the result (XEP-0280 §4, §5).
  static void carbons(XmppClient& c, bool on) {
    static int n = 0;
    std::string id = "cb-" + std::to_string(++n);
    c.send("<iq type='set' id='" + id + "'><" + (on ? "enable" : "disable") + " xmlns='urn:xmpp:carbons:2'/></iq>");
    auto r = c.receive_named("iq");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->attr("id"), id);
    EXPECT_EQ(r->attr("type"), "result");
  }
  // `from` sends `xml`; the server is done with it when this returns. Returns the messages
  // `from` received meanwhile.
  static std::vector<Element> send(XmppClient& from, const std::string& xml) {
    from.send(xml);
    return sync(from);
  }
  static TestServer* server_;
};
TestServer* Carbons::server_ = nullptr;

TEST_F(Carbons, DiscoAdvertisesTheFeature) {
  auto alice = login("alice", "desk");
  alice->send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto d = alice->receive_named("iq");
  ASSERT_TRUE(d && d->attr("type") == "result");
  bool found = false;
  for (const auto& f : d->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    if (f.attr("var") == kCarbonsNs) found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(Carbons, EnableAndDisableMayBeRepeated) {
  auto alice = login("alice", "desk");
  carbons(*alice, true);
  carbons(*alice, true);  // §10.1: not an error
  carbons(*alice, false);
  carbons(*alice, false);
}

TEST_F(Carbons, SentMessagesAreCopiedToTheOtherEnabledResources) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto tablet = login("alice", "tablet");
  auto bob = login("bob", "pc");
  carbons(*phone, true);  // the sender (desk) need not enable carbons; tablet did not

  send(*desk, "<message to='bob@localhost/pc' type='chat' id='s1'><body>hi bob</body></message>");
  auto original = bob->receive_named("message");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->attr("id"), "s1");
  EXPECT_EQ(original->find_child("sent", kCarbonsNs), nullptr);

  auto copy = phone->receive_named("message");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->attr("from"), "alice@localhost");
  EXPECT_EQ(copy->attr("to"), "alice@localhost/phone");
  EXPECT_EQ(copy->attr("type"), "chat");
  auto* inner = forwarded(*copy, "sent");
  ASSERT_NE(inner, nullptr) << "not a <sent/> carbon";
  EXPECT_EQ(inner->attr("from"), "alice@localhost/desk");
  EXPECT_EQ(inner->attr("to"), "bob@localhost/pc");
  EXPECT_EQ(inner->attr("id"), "s1");
  EXPECT_EQ(body(*inner), "hi bob");

  EXPECT_TRUE(sync(*desk).empty()) << "the sending resource got a copy";
  EXPECT_TRUE(sync(*tablet).empty()) << "a resource without carbons got a copy";
  EXPECT_TRUE(sync(*phone).empty()) << "more than one copy";
}

TEST_F(Carbons, MessagesToAFullJidAreCopiedToTheOtherEnabledResources) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto tablet = login("alice", "tablet");
  auto bob = login("bob", "pc");
  carbons(*desk, true);
  carbons(*phone, true);

  send(*bob, "<message to='alice@localhost/desk' type='chat' id='r1'><body>hi alice</body></message>");
  auto original = desk->receive_named("message");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->attr("id"), "r1");
  EXPECT_EQ(original->find_child("received", kCarbonsNs), nullptr);

  auto copy = phone->receive_named("message");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->attr("from"), "alice@localhost");
  EXPECT_EQ(copy->attr("to"), "alice@localhost/phone");
  auto* inner = forwarded(*copy, "received");
  ASSERT_NE(inner, nullptr) << "not a <received/> carbon";
  EXPECT_EQ(inner->attr("from"), "bob@localhost/pc");
  EXPECT_EQ(inner->attr("to"), "alice@localhost/desk");
  EXPECT_EQ(body(*inner), "hi alice");

  EXPECT_TRUE(sync(*desk).empty()) << "the addressed resource got a copy as well";
  EXPECT_TRUE(sync(*tablet).empty()) << "a resource without carbons got a copy";
}

TEST_F(Carbons, MessagesToTheBareJidAreCopiedToTheResourcesThatDidNotGetThem) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto bob = login("bob", "pc");
  carbons(*desk, true);
  carbons(*phone, true);
  send(*desk, "<presence><priority>5</priority></presence>");
  send(*phone, "<presence><priority>1</priority></presence>");

  // RFC 6121 §8.5.2.1.1 delivers to desk (highest priority); phone gets the carbon.
  send(*bob, "<message to='alice@localhost' type='chat' id='b1'><body>to the account</body></message>");
  auto original = desk->receive_named("message");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->attr("id"), "b1");
  EXPECT_EQ(original->find_child("received", kCarbonsNs), nullptr);
  auto copy = phone->receive_named("message");
  ASSERT_TRUE(copy);
  auto* inner = forwarded(*copy, "received");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->attr("id"), "b1");
  EXPECT_EQ(inner->attr("to"), "alice@localhost");
  EXPECT_TRUE(sync(*desk).empty());

  // With equal priorities both get the original, so nobody gets a copy.
  send(*phone, "<presence><priority>5</priority></presence>");
  send(*bob, "<message to='alice@localhost' type='chat' id='b2'><body>to both</body></message>");
  for (auto* c : {desk.get(), phone.get()}) {
    auto got = sync(*c);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attr("id"), "b2");
    EXPECT_EQ(got[0].find_child("received", kCarbonsNs), nullptr);
  }
}

TEST_F(Carbons, PrivateMessagesAreNotCopiedAndArriveWithoutThePrivateElement) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto bob = login("bob", "pc");
  carbons(*phone, true);

  // Sent: no copy (XEP-0280 §9); the receiving server (this one) removes <private/>.
  send(*desk, "<message to='bob@localhost/pc' type='chat' id='p1'><body>secret</body>"
              "<private xmlns='urn:xmpp:carbons:2'/></message>");
  auto m = bob->receive_named("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attr("id"), "p1");
  EXPECT_EQ(m->find_child("private", kCarbonsNs), nullptr) << "<private/> was not removed";
  EXPECT_TRUE(sync(*phone).empty()) << "a private sent message was copied";

  // Received: no copy either, and desk gets it without <private/>.
  send(*bob, "<message to='alice@localhost/desk' type='chat' id='p2'><body>secret too</body>"
             "<private xmlns='urn:xmpp:carbons:2'/></message>");
  auto r = desk->receive_named("message");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attr("id"), "p2");
  EXPECT_EQ(r->find_child("private", kCarbonsNs), nullptr);
  EXPECT_TRUE(sync(*phone).empty()) << "a private received message was copied";
}

TEST_F(Carbons, NoCopyHintIsHonoured) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto bob = login("bob", "pc");
  carbons(*phone, true);

  send(*desk, "<message to='bob@localhost/pc' type='chat' id='n1'><body>one device</body>"
              "<no-copy xmlns='urn:xmpp:hints'/></message>");
  ASSERT_TRUE(bob->receive_named("message"));
  EXPECT_TRUE(sync(*phone).empty()) << "a <no-copy/> sent message was copied";

  send(*bob, "<message to='alice@localhost/desk' type='chat' id='n2'><body>one device</body>"
             "<no-copy xmlns='urn:xmpp:hints'/></message>");
  auto r = desk->receive_named("message");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attr("id"), "n2");
  EXPECT_TRUE(sync(*phone).empty()) << "a <no-copy/> received message was copied";
}

TEST_F(Carbons, DisabledResourcesGetNothing) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto bob = login("bob", "pc");
  carbons(*phone, true);
  carbons(*phone, false);

  send(*desk, "<message to='bob@localhost/pc' type='chat' id='d1'><body>out</body></message>");
  auto at_bob = send(*bob, "<message to='alice@localhost/desk' type='chat' id='d2'><body>in</body></message>");
  ASSERT_EQ(at_bob.size(), 1u);
  EXPECT_EQ(at_bob[0].attr("id"), "d1");
  auto at_desk = desk->receive_named("message");
  ASSERT_TRUE(at_desk);
  EXPECT_EQ(at_desk->attr("id"), "d2");
  EXPECT_TRUE(sync(*phone).empty()) << "a resource that disabled carbons got a copy";
}

TEST_F(Carbons, OnlyInstantMessagesAreCopied) {
  auto desk = login("alice", "desk");
  auto phone = login("alice", "phone");
  auto bob = login("bob", "pc");
  carbons(*phone, true);

  // XEP-0280 §6: not a headline, not a normal message without a body...
  send(*desk, "<message to='bob@localhost/pc' type='headline' id='i1'><body>news</body></message>");
  send(*desk, "<message to='bob@localhost/pc' id='i2'><x xmlns='jabber:x:oob'><url>http://x.example/</url></x></message>");
  send(*bob, "<message to='alice@localhost/desk' type='normal' id='i3'>"
             "<received xmlns='urn:xmpp:receipts' id='x'/></message>");
  EXPECT_TRUE(sync(*phone).empty());
  // ... but a normal message with a body is.
  send(*desk, "<message to='bob@localhost/pc' id='i4'><body>normal with body</body></message>");
  auto copies = sync(*phone);
  ASSERT_EQ(copies.size(), 1u);
  auto* inner = forwarded(copies[0], "sent");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->attr("id"), "i4");
  EXPECT_FALSE(copies[0].attr("type").has_value());  // the wrapper keeps the original's (absent) type
}

}  // namespace
}  // namespace parley::test
