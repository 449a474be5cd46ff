// XEP-0191 Blocking Command over real TLS against `parley serve`, written as transcripts:
// what a user blocks, what the blocked JID and the user then see, and the pushes to the
// user's other resources.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kBlockingNs = "urn:xmpp:blocking";

// XEP-0191 §3.3: the application condition of an error for a stanza to a blocked JID.
bool says_blocked(const Element& stanza) {
  auto* error = stanza.find_child("error", stanza.ns());
  return error != nullptr && error->find_child("blocked", "urn:xmpp:blocking:errors") != nullptr;
}

std::vector<std::string> items(const Element& payload) {
  std::vector<std::string> out;
  for (const auto& item : payload.children()) out.emplace_back(item.attr("jid").value_or(""));
  std::sort(out.begin(), out.end());
  return out;
}

// Sends `xml` (an iq with id `id`) and returns the answer; what else arrives meanwhile goes
// to `others`.
std::optional<Element> ask(XmppClient& c, const std::string& id, const std::string& xml,
                           std::vector<Element>* others = nullptr) {
  c.send(xml);
  for (;;) {
    auto e = c.receive(10s);
    if (!e) return std::nullopt;
    if (e->name() == "iq" && e->attr("id") == id && (e->attr("type") == "result" || e->attr("type") == "error")) return e;
    if (others != nullptr) others->push_back(std::move(*e));
  }
}

// Everything the server had queued for `c` by the time it answers a ping.
std::vector<Element> drain(XmppClient& c) {
  static int n = 0;
  std::string id = "drain-" + std::to_string(++n);
  std::vector<Element> got;
  auto pong = ask(c, id, "<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", &got);
  EXPECT_TRUE(pong.has_value()) << "no answer to a ping";
  return got;
}

std::optional<Element> blocklist(XmppClient& c) {
  auto r = ask(c, "bl", "<iq type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
  if (!r || r->attr("type") != "result") return std::nullopt;
  auto* list = r->find_child("blocklist", kBlockingNs);
  if (list == nullptr) return std::nullopt;
  return *list;
}

std::string set_iq(const std::string& id, const std::string& verb, const std::vector<std::string>& jids) {
  std::string xml = "<iq type='set' id='" + id + "'><" + verb + " xmlns='urn:xmpp:blocking'>";
  for (const auto& j : jids) xml += "<item jid='" + j + "'/>";
  return xml + "</" + verb + "></iq>";
}

// The answer to a block/unblock, which must be a result.
void change(XmppClient& c, const std::string& verb, const std::vector<std::string>& jids,
            std::vector<Element>* others = nullptr) {
  static int n = 0;
  std::string id = verb + "-" + std::to_string(++n);
  auto r = ask(c, id, set_iq(id, verb, jids), others);
  ASSERT_TRUE(r.has_value()) << verb;
  EXPECT_EQ(r->attr("type"), "result") << verb << ": " << error_condition(*r);
}

const Element* first_named(const std::vector<Element>& list, std::string_view name) {
  for (const auto& e : list) {
    if (e.name() == name) return &e;
  }
  return nullptr;
}

class Blocking : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "blocking", "vcard", "private", "register", "disco", "ping"};
    server_ = new TestServer(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // Fresh accounts for every test: blocklists outlive sessions.
  void SetUp() override {
    static int n = 0;
    ++n;
    for (auto* name : {&alice_, &bob_, &carol_}) {
      *name = (name == &alice_ ? "alice" : name == &bob_ ? "bob" : "carol") + std::to_string(n);
      server_->add_user(*name + "@localhost", "secret");
    }
  }
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, "secret", resource);
  }
  static std::string bare(const std::string& user) { return user + "@localhost"; }

  static TestServer* server_;
  std::string alice_, bob_, carol_;
};
TestServer* Blocking::server_ = nullptr;

TEST_F(Blocking, DiscoAdvertisesTheBlockingCommand) {
  auto alice = login(alice_, "desk");
  auto info = ask(*alice, "d", "<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  ASSERT_TRUE(info && info->attr("type") == "result");
  bool found = false;
  for (const auto& f : info->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    if (f.attr("var") == kBlockingNs) found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(Blocking, TheBlocklistStartsEmptyAndKeepsWhatIsBlocked) {
  auto alice = login(alice_, "desk");
  auto empty = blocklist(*alice);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(items(*empty).empty());

  change(*alice, "block", {bare(bob_), bare(carol_) + "/phone", "spam.example"});
  auto list = blocklist(*alice);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(items(*list), (std::vector<std::string>{bare(bob_), bare(carol_) + "/phone", "spam.example"}));

  // It is the account's, not the session's.
  alice.reset();
  auto again = login(alice_, "laptop");
  auto later = blocklist(*again);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(items(*later).size(), 3u);
}

TEST_F(Blocking, NothingFromABlockedJidReachesTheUser) {
  auto alice = login(alice_, "desk");
  alice->send("<presence/>");
  auto bob = login(bob_, "phone");
  auto carol = login(carol_, "phone");
  change(*alice, "block", {bare(bob_)});

  // Messages: not delivered; bob gets service-unavailable, as if alice were offline.
  bob->send("<message to='" + bare(alice_) + "' type='chat' id='m1'><body>hello?</body></message>");
  auto e1 = bob->receive_named("message");
  ASSERT_TRUE(e1.has_value());
  EXPECT_EQ(e1->attr("id"), "m1");
  EXPECT_EQ(error_condition(*e1), "service-unavailable");
  EXPECT_FALSE(says_blocked(*e1)) << "the blocked JID must not learn that it is blocked";
  bob->send("<message to='" + bare(alice_) + "/desk' type='chat' id='m2'><body>hello?</body></message>");
  auto e2 = bob->receive_named("message");
  ASSERT_TRUE(e2.has_value());
  EXPECT_EQ(error_condition(*e2), "service-unavailable");

  // An iq get to her resource: service-unavailable, and she never sees it.
  auto iq = ask(*bob, "v1", "<iq type='get' id='v1' to='" + bare(alice_) + "/desk'><query xmlns='jabber:iq:version'/></iq>");
  ASSERT_TRUE(iq.has_value());
  EXPECT_EQ(error_condition(*iq), "service-unavailable");

  // Presence: dropped without an answer.
  bob->send("<presence to='" + bare(alice_) + "/desk'/>");
  for (const auto& e : drain(*bob)) {
    EXPECT_NE(e.name(), "presence") << "a blocked presence was answered";
  }

  // Someone else still gets through, and alice saw nothing of bob.
  carol->send("<message to='" + bare(alice_) + "/desk' id='c1'><body>hi</body></message>");
  auto seen = drain(*alice);
  bool from_carol = false;
  for (const auto& e : seen) {
    EXPECT_FALSE(e.attr("from").value_or("").starts_with(bare(bob_))) << "alice received a " << e.name() << " from bob";
    if (e.name() == "message" && e.attr("id") == "c1") from_carol = true;
  }
  if (!from_carol) {
    auto late = alice->receive_named("message");
    from_carol = late && late->attr("id") == "c1";
  }
  EXPECT_TRUE(from_carol);
}

TEST_F(Blocking, WhatTheUserSendsToABlockedJidComesBackNotAcceptable) {
  auto alice = login(alice_, "desk");
  auto bob = login(bob_, "phone");
  change(*alice, "block", {bare(bob_)});

  alice->send("<message to='" + bare(bob_) + "/phone' type='chat' id='o1'><body>bye</body></message>");
  auto m = alice->receive_named("message");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->attr("id"), "o1");
  EXPECT_EQ(error_condition(*m), "not-acceptable");
  EXPECT_TRUE(says_blocked(*m));

  alice->send("<presence to='" + bare(bob_) + "/phone' id='o2'/>");
  auto p = alice->receive_named("presence");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(error_condition(*p), "not-acceptable");
  EXPECT_TRUE(says_blocked(*p));

  auto iq = ask(*alice, "o3", "<iq type='get' id='o3' to='" + bare(bob_) + "/phone'><query xmlns='jabber:iq:version'/></iq>");
  ASSERT_TRUE(iq.has_value());
  EXPECT_EQ(error_condition(*iq), "not-acceptable");
  EXPECT_TRUE(says_blocked(*iq));

  for (const auto& e : drain(*bob)) ADD_FAILURE() << "bob received a " << e.name();
}

TEST_F(Blocking, ChangesArePushedToTheResourcesThatAskedForTheList) {
  auto one = login(alice_, "one");
  auto two = login(alice_, "two");
  auto three = login(alice_, "three");
  ASSERT_TRUE(blocklist(*one));
  ASSERT_TRUE(blocklist(*two));  // three never asks

  std::vector<Element> at_one;
  change(*one, "block", {bare(bob_)}, &at_one);
  auto pushed_two = two->receive_named("iq");
  ASSERT_TRUE(pushed_two.has_value());
  EXPECT_EQ(pushed_two->attr("type"), "set");
  auto* block = pushed_two->find_child("block", kBlockingNs);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(items(*block), std::vector<std::string>{bare(bob_)});
  // The resource that blocked asked for the list too, so it gets the push as well.
  if (!first_named(at_one, "iq")) {
    auto late = one->receive_named("iq");
    ASSERT_TRUE(late.has_value());
    at_one.push_back(*late);
  }
  ASSERT_NE(first_named(at_one, "iq")->find_child("block", kBlockingNs), nullptr);
  for (const auto& e : drain(*three)) ADD_FAILURE() << "a resource that never asked got a " << e.name();

  change(*two, "unblock", {bare(bob_)});
  auto unblocked = one->receive_named("iq");
  ASSERT_TRUE(unblocked.has_value());
  auto* unblock = unblocked->find_child("unblock", kBlockingNs);
  ASSERT_NE(unblock, nullptr);
  EXPECT_EQ(items(*unblock), std::vector<std::string>{bare(bob_)});

  // §3.5: unblock all is pushed as an empty <unblock/>.
  change(*one, "block", {bare(carol_)});
  ASSERT_TRUE(two->receive_named("iq"));
  change(*one, "unblock", {});
  std::optional<Element> all;
  for (int i = 0; i < 3 && !(all && all->find_child("unblock", kBlockingNs)); ++i) all = two->receive_named("iq");
  ASSERT_TRUE(all.has_value());
  auto* everything = all->find_child("unblock", kBlockingNs);
  ASSERT_NE(everything, nullptr);
  EXPECT_TRUE(everything->children().empty());
  auto at_three = blocklist(*three);
  ASSERT_TRUE(at_three.has_value());
  EXPECT_TRUE(items(*at_three).empty());
}

TEST_F(Blocking, UnblockingRestoresDelivery) {
  auto alice = login(alice_, "desk");
  auto bob = login(bob_, "phone");
  change(*alice, "block", {bare(bob_), bare(carol_)});
  bob->send("<message to='" + bare(alice_) + "/desk' id='u1'><body>1</body></message>");
  auto bounced = bob->receive_named("message");
  ASSERT_TRUE(bounced.has_value());
  EXPECT_EQ(error_condition(*bounced), "service-unavailable");

  change(*alice, "unblock", {bare(bob_)});
  bob->send("<message to='" + bare(alice_) + "/desk' id='u2'><body>2</body></message>");
  auto m = alice->receive_named("message");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->attr("id"), "u2");
  alice->send("<message to='" + bare(bob_) + "/phone' id='u3'><body>3</body></message>");
  auto back = bob->receive_named("message");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->attr("id"), "u3");
  EXPECT_EQ(back->attr("type"), std::nullopt);

  // Unblock all: carol gets through too.
  change(*alice, "unblock", {});
  auto carol = login(carol_, "phone");
  carol->send("<message to='" + bare(alice_) + "/desk' id='u4'><body>4</body></message>");
  auto from_carol = alice->receive_named("message");
  ASSERT_TRUE(from_carol.has_value());
  EXPECT_EQ(from_carol->attr("id"), "u4");
}

TEST_F(Blocking, AFullJidItemBlocksOnlyThatResource) {
  auto alice = login(alice_, "desk");
  auto phone = login(bob_, "phone");
  auto laptop = login(bob_, "laptop");
  change(*alice, "block", {bare(bob_) + "/phone"});
  phone->send("<message to='" + bare(alice_) + "/desk' id='f1'><body>x</body></message>");
  auto bounced = phone->receive_named("message");
  ASSERT_TRUE(bounced.has_value());
  EXPECT_EQ(error_condition(*bounced), "service-unavailable");
  laptop->send("<message to='" + bare(alice_) + "/desk' id='f2'><body>y</body></message>");
  auto m = alice->receive_named("message");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->attr("id"), "f2");
}

TEST_F(Blocking, MalformedCommandsAreRefusedAndChangeNothing) {
  auto alice = login(alice_, "desk");
  auto none = ask(*alice, "b1", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'/></iq>");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(error_condition(*none), "bad-request");  // §3.3: at least one item
  auto bad = ask(*alice, "b2", set_iq("b2", "block", {bare(bob_), "a@b@c"}));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(error_condition(*bad), "jid-malformed");
  auto list = blocklist(*alice);
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(items(*list).empty());
  // Someone else's blocklist is not there to read.
  auto other = ask(*alice, "b3", "<iq type='get' id='b3' to='" + bare(bob_) + "'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->attr("type"), "error");
}

// Domain items (XEP-0191 §6) between two domains of one server.
TEST(BlockingDomains, ADomainItemBlocksEveryoneThere) {
  TestServerOptions options;
  options.domains = {"localhost", "example.net"};
  options.modules = {"message", "blocking", "disco", "ping"};
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "secret");
  server.add_user("dave@example.net", "secret");
  auto alice = server.login("alice", "secret", "desk");
  auto bob = server.login("bob", "secret", "desk");
  XmppClient dave(server.client(false, "example.net"));
  ASSERT_EQ(dave.login("dave", "secret", "home"), "dave@example.net/home");

  change(*alice, "block", {"example.net"});
  dave.send("<message to='alice@localhost/desk' id='d1'><body>x</body></message>");
  auto bounced = dave.receive_named("message");
  ASSERT_TRUE(bounced.has_value());
  EXPECT_EQ(error_condition(*bounced), "service-unavailable");
  alice->send("<message to='dave@example.net/home' id='d2'><body>y</body></message>");
  auto refused = alice->receive_named("message");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(error_condition(*refused), "not-acceptable");
  EXPECT_TRUE(says_blocked(*refused));
  // The domain's server itself is blocked too.
  auto iq = ask(*alice, "d3", "<iq type='get' id='d3' to='example.net'><ping xmlns='urn:xmpp:ping'/></iq>");
  ASSERT_TRUE(iq.has_value());
  EXPECT_EQ(error_condition(*iq), "not-acceptable");
  // Another domain is not.
  bob->send("<message to='alice@localhost/desk' id='d4'><body>z</body></message>");
  auto m = alice->receive_named("message");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->attr("id"), "d4");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// XEP-0191 §3.3/§3.4: a contact subscribed to the user's presence sees the user go offline
// when blocked, and online again when unblocked.
TEST(BlockingPresence, ABlockedSubscriberSeesUnavailableAndUnblockingRestoresPresence) {
  TestServerOptions opts;
  opts.modules = {"message", "roster", "presence", "blocking", "disco", "ping"};
  TestServer server(opts);
  server.add_user("alice@localhost", "pw");
  server.add_user("bob@localhost", "pw");
  auto alice = server.login("alice", "pw", "desk");
  auto bob = server.login("bob", "pw", "phone");
  for (auto* c : {alice.get(), bob.get()}) c->send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>");
  alice->send("<presence><status>here</status></presence>");
  bob->send("<presence/>");
  // bob subscribes to alice's presence; alice approves (alice: from, bob: to).
  bob->send("<presence to='alice@localhost' type='subscribe'/>");
  for (;;) {
    auto p = alice->receive_named("presence", std::chrono::seconds(3));
    ASSERT_TRUE(p) << "alice got no subscription request";
    if (p->attr("type") == "subscribe") break;
  }
  alice->send("<presence to='bob@localhost' type='subscribed'/>");
  auto online = [&](XmppClient& c, const std::string& type) -> bool {
    for (;;) {
      auto p = c.receive_named("presence", std::chrono::seconds(3));
      if (!p) return false;
      if (p->attr("from") == "alice@localhost/desk" && p->attr("type").value_or("") == type) return true;
    }
  };
  ASSERT_TRUE(online(*bob, "")) << "bob does not see alice online before the block";

  alice->send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>");
  EXPECT_TRUE(online(*bob, "unavailable")) << "§3.3: bob must see alice go offline";

  alice->send("<iq type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></unblock></iq>");
  EXPECT_TRUE(online(*bob, "")) << "§3.4: bob must see alice online again";
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// The bodies of the messages in the caller's archive (XEP-0313 §4: a query without a form
// asks for everything), in archive order; nullopt if the query failed.
std::optional<std::vector<std::string>> archived_bodies(XmppClient& c, const std::string& qid) {
  c.send("<iq type='set' id='" + qid + "'><query xmlns='urn:xmpp:mam:2' queryid='" + qid + "'/></iq>");
  std::vector<std::string> bodies;
  for (;;) {
    auto e = c.receive(10s);
    if (!e) return std::nullopt;
    if (e->name() == "iq" && e->attr("id") == qid) {
      if (e->attr("type") != "result") return std::nullopt;
      return bodies;
    }
    auto* result = e->name() == "message" ? e->find_child("result", "urn:xmpp:mam:2") : nullptr;
    if (result == nullptr || result->attr("queryid") != qid) continue;
    auto* forwarded = result->find_child("forwarded", "urn:xmpp:forward:0");
    auto* inner = forwarded ? forwarded->find_child("message", "jabber:client") : nullptr;
    bodies.push_back(inner ? body(*inner) : "(no message)");
  }
}

// XEP-0191 §3.3: a message from a blocked JID is not delivered, and so not archived either
// (the blocking filter runs above mam's handler, priority 100 > 50). Nor is what the user
// tries to send to the blocked JID, refused before mam's pre-message handler.
TEST(BlockingArchive, BlockedMessagesAreNotArchived) {
  TestServerOptions opts;
  opts.modules = {"message", "blocking", "mam", "disco", "ping"};
  TestServer server(opts);
  for (const char* user : {"alice", "bob", "carol"}) server.add_user(std::string(user) + "@localhost", "pw");
  auto alice = server.login("alice", "pw", "desk");
  auto bob = server.login("bob", "pw", "phone");
  auto carol = server.login("carol", "pw", "home");
  bob->send("<presence/>");
  change(*bob, "block", {"alice@localhost"});

  // alice sends bob a message: she gets service-unavailable, as if bob were offline, and
  // learns nothing of the block (§3.3).
  alice->send("<message to='bob@localhost' type='chat' id='a1'><body>from-blocked-alice</body></message>");
  auto bounced = alice->receive_named("message");
  ASSERT_TRUE(bounced.has_value());
  EXPECT_EQ(bounced->attr("id"), "a1");
  EXPECT_EQ(error_condition(*bounced), "service-unavailable");
  EXPECT_FALSE(says_blocked(*bounced));

  // bob writes to alice: not-acceptable with <blocked/> (§3.3).
  bob->send("<message to='alice@localhost' type='chat' id='b1'><body>to-blocked-alice</body></message>");
  auto refused = bob->receive_named("message");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->attr("id"), "b1");
  EXPECT_EQ(error_condition(*refused), "not-acceptable");
  EXPECT_TRUE(says_blocked(*refused));

  // carol is not blocked: her message, sent last, is delivered and archived, so the archive
  // is working and holds everything archived before it.
  carol->send("<message to='bob@localhost' type='chat' id='c1'><body>from-carol</body></message>");
  auto delivered = bob->receive_named("message");
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ(delivered->attr("id"), "c1");

  auto archive = archived_bodies(*bob, "mam1");
  ASSERT_TRUE(archive.has_value()) << "bob's archive query failed";
  EXPECT_EQ(*archive, std::vector<std::string>{"from-carol"});
  for (const auto& e : drain(*bob)) ADD_FAILURE() << "bob received a " << e.name() << " " << e.attr("id").value_or("");
}

}  // namespace
}  // namespace parley::test
