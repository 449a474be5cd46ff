// Message delivery to local accounts (the message module, RFC 6121 §8.5) over real TLS
// against `parley serve`, as transcripts: which of alice's resources receive what bob
// sends to her bare JID and to full JIDs, and what bob gets back.
//
// What the module implements where RFC 6121 leaves a choice (modules/message/README.md):
// chat and normal to a bare JID go to every available resource that shares the highest
// non-negative priority (§8.5.2.1.1 allows "the most available resource or resources").
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

std::string message(const std::string& to, const std::string& type, const std::string& text) {
  return "<message to='" + to + "'" + (type.empty() ? "" : " type='" + type + "'") + "><body>" + text +
         "</body></message>";
}

std::string presence(int priority) {
  return "<presence><priority>" + std::to_string(priority) + "</priority></presence>";
}

bool any_message(const Element& e) { return e.name() == "message"; }

class Message : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    // No offline storage: what nobody can receive comes back to the sender.
    options.modules = {"message", "ping", "disco"};
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
    server_->add_user(alice_ + "@localhost", "secret");
    server_->add_user(bob_ + "@localhost", "secret");
  }
  // alice's resource, available with `priority` (no presence at all when nullopt).
  std::unique_ptr<Transcript> alice(const std::string& resource, std::optional<int> priority) {
    auto t = std::make_unique<Transcript>(server_->login(alice_, "secret", resource));
    if (priority) t->send(presence(*priority));
    t->barrier();  // the presence has been taken into account
    return t;
  }
  std::unique_ptr<Transcript> bob() { return std::make_unique<Transcript>(server_->login(bob_, "secret", "pc")); }
  std::string alice_bare() const { return alice_ + "@localhost"; }

  static TestServer* server_;
  std::string alice_, bob_;
};
TestServer* Message::server_ = nullptr;

// §8.5.2.1.1: a headline to the bare JID goes to every available resource with
// non-negative priority; not to a negative one, nor to one that sent no presence.
TEST_F(Message, HeadlineToTheBareJidReachesEveryNonNegativeResource) {
  auto high = alice("high", 5);
  auto zero = alice("zero", 0);
  auto negative = alice("negative", -1);
  auto silent = alice("silent", std::nullopt);
  auto b = bob();

  b->send(message(alice_bare(), "headline", "news"));
  EXPECT_TRUE(high->expect(message_with_body("news"))) << "the priority-5 resource";
  EXPECT_TRUE(zero->expect(message_with_body("news"))) << "the priority-0 resource";
  b->barrier();
  negative->barrier();
  silent->barrier();
  EXPECT_EQ(negative->count(any_message), 0u) << negative->kept();
  EXPECT_EQ(silent->count(any_message), 0u) << silent->kept();
  EXPECT_EQ(b->count(any_message), 0u) << "no error for a delivered headline: " << b->kept();
}

// §8.5.2.1.1: chat (and normal) to the bare JID go to the highest-priority resource; when
// several share the highest priority, to each of them.
TEST_F(Message, ChatToTheBareJidReachesTheHighestPriorityResources) {
  auto high = alice("high", 5);
  auto low = alice("low", 1);
  auto negative = alice("negative", -5);
  auto b = bob();

  b->send(message(alice_bare(), "chat", "chat one"));
  b->send(message(alice_bare(), "", "normal one"));
  ASSERT_TRUE(high->expect(message_with_body("chat one")));
  ASSERT_TRUE(high->expect(message_with_body("normal one")));
  low->barrier();
  negative->barrier();
  EXPECT_EQ(low->count(any_message), 0u) << "only the highest priority gets it: " << low->kept();
  EXPECT_EQ(negative->count(any_message), 0u) << negative->kept();

  // low raises its priority to 5: now two resources share the highest priority.
  low->send(presence(5));
  low->barrier();
  b->send(message(alice_bare(), "chat", "chat two"));
  EXPECT_TRUE(high->expect(message_with_body("chat two")));
  EXPECT_TRUE(low->expect(message_with_body("chat two")));
  negative->barrier();
  EXPECT_EQ(negative->count(any_message), 0u) << negative->kept();
}

// §8.5.2.2: resources with negative priority never get what is sent to the bare JID; with
// only those (and no offline storage), chat comes back as service-unavailable (§8.5.2.2.1)
// and a headline is silently dropped.
TEST_F(Message, NegativePriorityResourcesNeverGetBareJidMessages) {
  auto negative = alice("negative", -1);
  auto b = bob();

  b->send(message(alice_bare(), "chat", "anyone there?"));
  auto bounce = b->expect(error_of("message", "service-unavailable"));
  ASSERT_TRUE(bounce) << b->kept();
  EXPECT_EQ(bounce->attr("from"), alice_bare());

  b->send(message(alice_bare(), "headline", "breaking"));
  b->barrier();
  negative->barrier();
  EXPECT_EQ(negative->count(any_message), 0u) << negative->kept();
  EXPECT_EQ(b->count(any_message), 0u) << "a headline is never bounced: " << b->kept();

  // A full JID still reaches it (§8.5.3.1).
  b->send(message(negative->jid(), "chat", "just you"));
  EXPECT_TRUE(negative->expect(message_with_body("just you")));
}

// §8.5.2.1.3: groupchat to a bare JID is service-unavailable; no resource gets it.
TEST_F(Message, GroupchatToTheBareJidIsServiceUnavailable) {
  auto a = alice("desk", 0);
  auto b = bob();
  b->send(message(alice_bare(), "groupchat", "room talk"));
  auto bounce = b->expect(error_of("message", "service-unavailable"));
  ASSERT_TRUE(bounce) << b->kept();
  EXPECT_EQ(bounce->attr("from"), alice_bare());
  a->barrier();
  EXPECT_EQ(a->count(any_message), 0u) << a->kept();
}

// §8.5.3.2.1: a chat message to a resource that is gone is treated as sent to the bare JID.
TEST_F(Message, ChatToAVanishedFullJidGoesToTheBareJid) {
  auto a = alice("desk", 0);
  auto b = bob();
  b->send(message(alice_bare() + "/gone", "chat", "are you still on the phone?"));
  EXPECT_TRUE(a->expect(message_with_body("are you still on the phone?"))) << a->kept();
  b->barrier();
  EXPECT_EQ(b->count(any_message), 0u) << b->kept();
}

// §8.5.3.2.1: a headline to a resource that is gone is silently dropped: no other resource
// gets it and the sender gets no error. Groupchat gets service-unavailable.
TEST_F(Message, HeadlineToAVanishedFullJidIsDroppedAndGroupchatBounces) {
  auto a = alice("desk", 0);
  auto b = bob();
  b->send(message(alice_bare() + "/gone", "headline", "for the phone only"));
  b->barrier();
  a->barrier();
  EXPECT_EQ(a->count(any_message), 0u) << a->kept();
  EXPECT_EQ(b->count(any_message), 0u) << b->kept();

  b->send(message(alice_bare() + "/gone", "groupchat", "room talk"));
  EXPECT_TRUE(b->expect(error_of("message", "service-unavailable"))) << b->kept();
  a->barrier();
  EXPECT_EQ(a->count(any_message), 0u) << a->kept();
}

// §8.5.3.2.2 (RFC 6120 §10.5.3.2): an iq to a resource that is gone is service-unavailable.
TEST_F(Message, IqToAVanishedFullJidIsServiceUnavailable) {
  auto a = alice("desk", 0);
  auto b = bob();
  auto answer = b->iq("v1", "<iq type='get' id='v1' to='" + alice_bare() + "/gone'><query xmlns='jabber:iq:version'/></iq>");
  EXPECT_EQ(answer.attr("type"), "error");
  EXPECT_EQ(error_condition(answer), "service-unavailable");
  EXPECT_EQ(answer.attr("from"), alice_bare() + "/gone");
  a->barrier();
  EXPECT_EQ(a->count([](const Element& e) { return e.name() == "iq"; }), 0u) << a->kept();
}

// RFC 6120 §8.3.1, RFC 6121 §8.5.2.1.4: an error message is never answered with an error,
// wherever it goes: a bare JID without an available resource, a vanished resource, an
// account that does not exist.
TEST_F(Message, AnErrorMessageIsNeverAnsweredWithAnError) {
  auto negative = alice("negative", -1);
  auto b = bob();
  const std::string error = "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>";
  for (const std::string& to : {alice_bare(), alice_bare() + "/gone", std::string("nobody@localhost"),
                                std::string("nobody@localhost/res")}) {
    b->send("<message type='error' to='" + to + "'><body>x</body>" + error + "</message>");
  }
  b->barrier();
  EXPECT_EQ(b->count(any_message), 0u) << b->kept();
  negative->barrier();
  EXPECT_EQ(negative->count(any_message), 0u) << negative->kept();
}

}  // namespace
}  // namespace parley::test
