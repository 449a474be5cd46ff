// Presence subscriptions and presence (RFC 6121 §3-§4) over real TLS against `parley serve`:
// the subscription state table of Appendix A between two accounts, as both of them observe
// it (pushes, delivered stanzas, presence); presence at login, logout and on a dropped link;
// probes; directed presence; pre-approvals; pending requests shown again until answered.
#include <gtest/gtest.h>
#include <signal.h>

#include <deque>
#include <functional>
#include <regex>

#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using server::xml::Element;
using Match = std::function<bool(const Element&)>;

constexpr const char* kRosterNs = "jabber:iq:roster";

// A logged-in client whose password is "<user>-secret", and that can read its roster.
class Peer : public Transcript {
 public:
  Peer(const ClientOptions& options, const std::string& user, const std::string& resource)
      : Transcript(logged_in(options, user, user + "-secret", resource)) {}

  // The roster, as "jid" -> "subscription[ ask][ approved]".
  std::map<std::string, std::string> roster() {
    std::string id = "roster" + std::to_string(++rosters_);
    Element r = iq(id, "<iq type='get' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>");
    std::map<std::string, std::string> out;
    if (auto* q = r.find_child("query", kRosterNs)) {
      for (const auto& item : q->children()) {
        std::string state(item.attr("subscription").value_or("?"));
        if (item.attr("ask") == "subscribe") state += " ask";
        if (item.attr("approved") == "true") state += " approved";
        out[std::string(*item.attr("jid"))] = state;
      }
    }
    return out;
  }
  // A clean logout (</stream:stream>, then the connection closes). The server ends the
  // session a moment later: tests wait for what that causes, not for the logout.
  void logout() {
    send("</stream:stream>");
    client().wait_closed(3s);
  }
 private:
  int rosters_ = 0;
};

// Both have handled everything the other sent before now, and received what it caused.
void settle(Peer& a, Peer& b) {
  a.barrier();
  b.barrier();
  a.barrier();
}

Match presence(const std::string& from, const std::string& type = "") {
  return [from, type](const Element& e) {
    return e.name() == "presence" && e.attr("from") == from && e.attr("type").value_or("") == type;
  };
}

Match any_subscription_from(const std::string& from) {
  return [from](const Element& e) {
    auto t = e.attr("type").value_or("");
    return e.name() == "presence" && e.attr("from") == from &&
           (t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed");
  };
}

Match push_of(const std::string& jid) {
  return [jid](const Element& e) {
    if (e.name() != "iq" || e.attr("type") != "set") return false;
    auto* q = e.find_child("query", kRosterNs);
    auto* item = q ? q->find_child("item", kRosterNs) : nullptr;
    return item != nullptr && item->attr("jid") == jid;
  };
}

std::string pushed_state(const Element& push) {
  auto* item = push.find_child("query", kRosterNs)->find_child("item", kRosterNs);
  std::string state(item->attr("subscription").value_or("?"));
  if (item->attr("ask") == "subscribe") state += " ask";
  if (item->attr("approved") == "true") state += " approved";
  return state;
}

std::string status_of(const Element& presence) {
  auto* s = presence.find_child("status", "jabber:client");
  return s ? s->text() : "";
}

std::string sub(const std::string& to, const std::string& type, const std::string& extra = "") {
  return "<presence to='" + to + "' type='" + type + "'>" + extra + "</presence>";
}

TestServerOptions options() {
  TestServerOptions o;
  o.modules = {"message", "roster", "presence", "disco", "ping"};
  return o;
}

class PresenceBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(options()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static void add(const std::string& user) { server_->add_user(user + "@localhost", user + "-secret"); }
  // Logged in, roster requested (an interested resource), not yet available.
  static std::unique_ptr<Peer> connect(const std::string& user, const std::string& resource) {
    auto p = std::make_unique<Peer>(server_->client(), user, resource);
    p->roster();
    return p;
  }
  // Logged in, interested, and available (initial presence handled).
  static std::unique_ptr<Peer> online(const std::string& user, const std::string& resource,
                                      const std::string& presence_xml = "<presence/>") {
    auto p = connect(user, resource);
    p->send(presence_xml);
    p->barrier();
    return p;
  }
  // Subscriptions both ways ("Both" on each side).
  static void befriend(Peer& a, Peer& b) {
    a.send(sub(b.bare(), "subscribe"));
    ASSERT_TRUE(b.expect(presence(a.bare(), "subscribe")));
    b.send(sub(a.bare(), "subscribed"));
    ASSERT_TRUE(a.expect(presence(b.bare(), "subscribed")));
    b.send(sub(a.bare(), "subscribe"));
    ASSERT_TRUE(a.expect(presence(b.bare(), "subscribe")));
    a.send(sub(b.bare(), "subscribed"));
    ASSERT_TRUE(b.expect(presence(a.bare(), "subscribed")));
    settle(a, b);
    a.clear();
    b.clear();
  }
  static TestServer* server_;
};
TestServer* PresenceBase::server_ = nullptr;

// ---- The state table (RFC 6121 Appendix A) ------------------------------------------------
//
// Alice's state toward Bob is driven to each of the nine states of A.1 (Bob's side is the
// mirror image), then Alice sends one subscription stanza. Both sides observe: the roster
// pushes, whether Bob gets the stanza, the presence each side gets, and both rosters after.

struct Row {
  const char* state;      // Alice's state before
  const char* alice;      // Alice's item for Bob after ("" = none)
  const char* bob;        // Bob's item for Alice after
  bool alice_push;        // Alice gets a roster push
  bool bob_push;          // Bob gets a roster push
  bool bob_gets;          // Bob gets the stanza
  bool alice_available;   // Alice gets Bob's presence
  bool alice_unavailable; // Alice gets Bob's unavailable presence
  bool bob_available;     // Bob gets Alice's presence
  bool bob_unavailable;   // Bob gets Alice's unavailable presence
};

// The stanzas that bring a fresh pair (a = Alice, b = Bob) to Alice's state `name`.
std::vector<std::pair<char, const char*>> steps_to(std::string_view name) {
  if (name == "None") return {};
  if (name == "None + Pending Out") return {{'a', "subscribe"}};
  if (name == "None + Pending In") return {{'b', "subscribe"}};
  if (name == "None + Pending Out/In") return {{'a', "subscribe"}, {'b', "subscribe"}};
  if (name == "To") return {{'a', "subscribe"}, {'b', "subscribed"}};
  if (name == "To + Pending In") return {{'a', "subscribe"}, {'b', "subscribed"}, {'b', "subscribe"}};
  if (name == "From") return {{'b', "subscribe"}, {'a', "subscribed"}};
  if (name == "From + Pending Out") return {{'b', "subscribe"}, {'a', "subscribed"}, {'a', "subscribe"}};
  if (name == "Both") return {{'a', "subscribe"}, {'b', "subscribed"}, {'b', "subscribe"}, {'a', "subscribed"}};
  ADD_FAILURE() << "no state " << name;
  return {};
}

class PresenceStates : public PresenceBase {
 protected:
  void run_table(const std::string& type, const std::vector<Row>& rows) {
    ASSERT_EQ(rows.size(), 9u);
    int n = 0;
    for (const auto& row : rows) {
      SCOPED_TRACE(std::string("Alice sends '") + type + "' in state \"" + row.state + "\"");
      std::string a = type + "_a" + std::to_string(n), b = type + "_b" + std::to_string(n);
      ++n;
      add(a);
      add(b);
      auto alice = online(a, "a");
      auto bob = online(b, "b");
      for (const auto& [who, what] : steps_to(row.state)) {
        Peer& from = who == 'a' ? *alice : *bob;
        Peer& to = who == 'a' ? *bob : *alice;
        from.send(sub(to.bare(), what));
        ASSERT_TRUE(to.expect(presence(from.bare(), what))) << "setting up: " << what;
      }
      settle(*alice, *bob);
      alice->clear();
      bob->clear();

      alice->send(sub(bob->bare(), type));
      settle(*alice, *bob);
      std::string alice_res = alice->bare() + "/a", bob_res = bob->bare() + "/b";
      EXPECT_EQ(alice->count(push_of(bob->bare())), row.alice_push ? 1u : 0u) << "Alice's pushes";
      EXPECT_EQ(bob->count(push_of(alice->bare())), row.bob_push ? 1u : 0u) << "Bob's pushes";
      EXPECT_EQ(bob->count(presence(alice->bare(), type)), row.bob_gets ? 1u : 0u) << "Bob gets the stanza";
      EXPECT_EQ(alice->count(any_subscription_from(bob->bare())), 0u) << "Alice gets no subscription stanza";
      EXPECT_EQ(alice->count(presence(bob_res)), row.alice_available ? 1u : 0u) << "Alice gets Bob's presence";
      EXPECT_EQ(alice->count(presence(bob_res, "unavailable")), row.alice_unavailable ? 1u : 0u)
          << "Alice gets Bob's unavailable presence";
      EXPECT_EQ(bob->count(presence(alice_res)), row.bob_available ? 1u : 0u) << "Bob gets Alice's presence";
      EXPECT_EQ(bob->count(presence(alice_res, "unavailable")), row.bob_unavailable ? 1u : 0u)
          << "Bob gets Alice's unavailable presence";
      auto alice_roster = alice->roster();
      auto bob_roster = bob->roster();
      EXPECT_EQ(alice_roster.count(bob->bare()) ? alice_roster[bob->bare()] : "", row.alice) << "Alice's roster";
      EXPECT_EQ(bob_roster.count(alice->bare()) ? bob_roster[alice->bare()] : "", row.bob) << "Bob's roster";
    }
  }
};

// A.2.1 (Alice) and A.3.1 (Bob). Already subscribed, Bob's server answers for him (§3.1.3)
// and sends his presence; Alice's server drops that "subscribed", which changes nothing.
TEST_F(PresenceStates, Subscribe) {
  run_table("subscribe", {
      // state                    alice        bob         a.push b.push b.gets a.av  a.unav b.av  b.unav
      {"None",                    "none ask",  "",         true,  false, true,  false, false, false, false},
      {"None + Pending Out",      "none ask",  "",         false, false, false, false, false, false, false},
      {"None + Pending In",       "none ask",  "none ask", true,  false, true,  false, false, false, false},
      {"None + Pending Out/In",   "none ask",  "none ask", false, false, false, false, false, false, false},
      {"To",                      "to",        "from",     false, false, false, true,  false, false, false},
      {"To + Pending In",         "to",        "from ask", false, false, false, true,  false, false, false},
      {"From",                    "from ask",  "to",       true,  false, true,  false, false, false, false},
      {"From + Pending Out",      "from ask",  "to",       false, false, false, false, false, false, false},
      {"Both",                    "both",      "both",     false, false, false, true,  false, false, false},
  });
}

// A.2.2 (Alice) and A.3.2 (Bob); Bob's server sends his unavailable presence when Alice's
// subscription ends (§3.3.3).
TEST_F(PresenceStates, Unsubscribe) {
  run_table("unsubscribe", {
      {"None",                    "",          "",         false, false, false, false, false, false, false},
      {"None + Pending Out",      "none",      "",         true,  false, true,  false, false, false, false},
      {"None + Pending In",       "",          "none ask", false, false, false, false, false, false, false},
      {"None + Pending Out/In",   "none",      "none ask", true,  false, true,  false, false, false, false},
      {"To",                      "none",      "none",     true,  true,  true,  false, true,  false, false},
      {"To + Pending In",         "none",      "none ask", true,  true,  true,  false, true,  false, false},
      {"From",                    "from",      "to",       false, false, false, false, false, false, false},
      {"From + Pending Out",      "from",      "to",       true,  false, true,  false, false, false, false},
      {"Both",                    "from",      "to",       true,  true,  true,  false, true,  false, false},
  });
}

// A.2.3 (Alice) and A.3.3 (Bob). With no request pending it is a pre-approval (§3.4), not
// routed; an approval sends Alice's presence to her new subscriber (§3.1.5).
TEST_F(PresenceStates, Subscribed) {
  run_table("subscribed", {
      {"None",                    "none approved",     "",     true,  false, false, false, false, false, false},
      {"None + Pending Out",      "none ask approved", "",     true,  false, false, false, false, false, false},
      {"None + Pending In",       "from",      "to",       true,  true,  true,  false, false, true,  false},
      {"None + Pending Out/In",   "from ask",  "to",       true,  true,  true,  false, false, true,  false},
      {"To",                      "to approved", "from",   true,  false, false, false, false, false, false},
      {"To + Pending In",         "both",      "both",     true,  true,  true,  false, false, true,  false},
      {"From",                    "from",      "to",       false, false, false, false, false, false, false},
      {"From + Pending Out",      "from ask",  "to",       false, false, false, false, false, false, false},
      {"Both",                    "both",      "both",     false, false, false, false, false, false, false},
  });
}

// A.2.4 (Alice) and A.3.4 (Bob); ending Bob's subscription sends him Alice's unavailable
// presence (§3.2.2).
TEST_F(PresenceStates, Unsubscribed) {
  run_table("unsubscribed", {
      {"None",                    "",          "",         false, false, false, false, false, false, false},
      {"None + Pending Out",      "none ask",  "",         false, false, false, false, false, false, false},
      {"None + Pending In",       "",          "none",     false, true,  true,  false, false, false, false},
      {"None + Pending Out/In",   "none ask",  "none",     false, true,  true,  false, false, false, false},
      {"To",                      "to",        "from",     false, false, false, false, false, false, false},
      {"To + Pending In",         "to",        "from",     false, true,  true,  false, false, false, false},
      {"From",                    "none",      "none",     true,  true,  true,  false, false, false, true},
      {"From + Pending Out",      "none ask",  "none",     true,  true,  true,  false, false, false, true},
      {"Both",                    "to",        "from",     true,  true,  true,  false, false, false, true},
  });
}

// ---- Subscriptions as a story ---------------------------------------------------------------

class Presence : public PresenceBase {};

TEST_F(Presence, ASubscriptionRequestIsApprovedAndReturned) {
  add("romeo");
  add("juliet");
  auto romeo = online("romeo", "orchard", "<presence><status>under the balcony</status></presence>");
  auto juliet = online("juliet", "balcony", "<presence><show>chat</show></presence>");

  // §3.1.2: the request is stamped with Romeo's bare JID; his roster shows it pending.
  romeo->send("<presence to='juliet@localhost/balcony' type='subscribe' id='s1'><status>It is I</status></presence>");
  auto push = romeo->expect(push_of("juliet@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "none ask");
  auto request = juliet->expect(presence("romeo@localhost", "subscribe"));
  ASSERT_TRUE(request) << "§3.1.3: delivered to the contact, addressed to her bare JID";
  EXPECT_EQ(request->attr("to"), "juliet@localhost");
  EXPECT_EQ(status_of(*request), "It is I");

  // §3.1.5: Juliet approves; both rosters change; Romeo gets "subscribed", then her presence.
  juliet->send(sub("romeo@localhost", "subscribed"));
  push = juliet->expect(push_of("romeo@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "from");
  push = romeo->expect(push_of("juliet@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "to");
  EXPECT_TRUE(romeo->expect(presence("juliet@localhost", "subscribed")));
  auto her = romeo->expect(presence("juliet@localhost/balcony"));
  ASSERT_TRUE(her);
  EXPECT_EQ(her->find_child("show", "jabber:client")->text(), "chat");

  // And back: Both.
  juliet->send(sub("romeo@localhost", "subscribe"));
  ASSERT_TRUE(romeo->expect(presence("juliet@localhost", "subscribe")));
  romeo->send(sub("juliet@localhost", "subscribed"));
  ASSERT_TRUE(juliet->expect(presence("romeo@localhost", "subscribed")));
  auto his = juliet->expect(presence("romeo@localhost/orchard"));
  ASSERT_TRUE(his);
  EXPECT_EQ(status_of(*his), "under the balcony");
  settle(*romeo, *juliet);
  EXPECT_EQ(romeo->roster()["juliet@localhost"], "both");
  EXPECT_EQ(juliet->roster()["romeo@localhost"], "both");
}

// RFC 6121 §3.4: a pre-approved contact's request is approved at once, without asking.
TEST_F(Presence, PreApproval) {
  add("pa1");
  add("pa2");
  auto a = online("pa1", "a");
  auto b = online("pa2", "b");
  a->send(sub("pa2@localhost", "subscribed"));
  auto push = a->expect(push_of("pa2@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "none approved");
  settle(*a, *b);
  EXPECT_EQ(b->count(any_subscription_from("pa1@localhost")), 0u) << "a pre-approval is not routed";

  b->send(sub("pa1@localhost", "subscribe"));
  EXPECT_TRUE(b->expect(presence("pa1@localhost", "subscribed")));
  EXPECT_TRUE(b->expect(presence("pa1@localhost/a"))) << "and the presence of the approving account";
  push = a->expect(push_of("pa2@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "from");
  settle(*a, *b);
  EXPECT_EQ(a->count(presence("pa2@localhost", "subscribe")), 0u) << "the request is not shown";
  EXPECT_EQ(b->roster()["pa1@localhost"], "to");
}

// RFC 6121 §3.1.3: a request to someone offline is kept and shown at their next initial
// presence, and again at every one until it is answered; sent twice, it is shown once.
TEST_F(Presence, APendingRequestIsShownAgainUntilAnswered) {
  add("asker");
  add("sleeper");
  auto asker = online("asker", "desk");
  asker->send(sub("sleeper@localhost", "subscribe", "<status>remember me?</status>"));
  ASSERT_TRUE(asker->expect(push_of("sleeper@localhost")));
  asker->barrier();

  {
    auto sleeper = connect("sleeper", "phone");
    sleeper->barrier();
    EXPECT_EQ(sleeper->count(presence("asker@localhost", "subscribe")), 0u) << "not before initial presence";
    sleeper->send("<presence/>");
    auto request = sleeper->expect(presence("asker@localhost", "subscribe"));
    ASSERT_TRUE(request);
    EXPECT_EQ(status_of(*request), "remember me?");
    // Gone without answering.
  }
  // The requester reconnects and asks again: still one request.
  asker.reset();
  asker = online("asker", "laptop");
  asker->send(sub("sleeper@localhost", "subscribe", "<status>again</status>"));
  asker->barrier();
  {
    auto sleeper = online("sleeper", "phone");
    auto request = sleeper->expect(presence("asker@localhost", "subscribe"));
    ASSERT_TRUE(request) << "shown again at the next initial presence";
    EXPECT_EQ(status_of(*request), "remember me?");
    sleeper->barrier();
    EXPECT_EQ(sleeper->count(presence("asker@localhost", "subscribe")), 0u) << "only once";
    EXPECT_TRUE(sleeper->roster().empty()) << "a request puts nobody on the roster";

    sleeper->send(sub("asker@localhost", "subscribed"));
    EXPECT_TRUE(asker->expect(presence("sleeper@localhost", "subscribed")));
    settle(*sleeper, *asker);
  }
  auto sleeper = online("sleeper", "tablet");
  sleeper->barrier();
  EXPECT_EQ(sleeper->count(presence("asker@localhost", "subscribe")), 0u) << "answered, no longer shown";
  EXPECT_EQ(sleeper->roster()["asker@localhost"], "from");
}

// A subscription request to a local account that does not exist is ignored (RFC 6121
// §8.5.1); to a domain that cannot be reached, it comes back as an error.
TEST_F(Presence, RequestsToNobody) {
  add("lonely");
  auto lonely = online("lonely", "desk");
  lonely->send(sub("nobody@localhost", "subscribe"));
  auto push = lonely->expect(push_of("nobody@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "none ask");
  lonely->barrier();
  EXPECT_EQ(lonely->count([](const Element& e) { return e.name() == "presence" && e.attr("type") == "error"; }), 0u);

  lonely->send(sub("someone@remote.invalid", "subscribe"));
  push = lonely->expect(push_of("someone@remote.invalid"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "none ask");
  // (A generous bound: once federation handles route/remote, this waits for a DNS answer.)
  auto error = lonely->expect([](const Element& e) { return e.name() == "presence" && e.attr("type") == "error"; },
                              15s);
  ASSERT_TRUE(error) << "the contact's domain cannot be reached";
  EXPECT_EQ(error->attr("from"), "someone@remote.invalid");
  EXPECT_FALSE(error_condition(*error).empty());
}

// RFC 6121 §2.5.2: removing a contact ends the subscriptions both ways, and each side sees
// the other go unavailable.
TEST_F(Presence, RemovingAContactEndsBothSubscriptions) {
  add("rm1");
  add("rm2");
  auto a = online("rm1", "a");
  auto b = online("rm2", "b");
  befriend(*a, *b);
  EXPECT_EQ(a->iq("r1", "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='rm2@localhost' "
                        "subscription='remove'/></query></iq>").attr("type"), "result");
  auto push = a->expect(push_of("rm2@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(pushed_state(*push), "remove");
  EXPECT_TRUE(b->expect(presence("rm1@localhost", "unsubscribe")));
  EXPECT_TRUE(b->expect(presence("rm1@localhost", "unsubscribed")));
  EXPECT_TRUE(b->expect(presence("rm1@localhost/a", "unavailable")));
  EXPECT_TRUE(a->expect(presence("rm2@localhost/b", "unavailable")));
  settle(*a, *b);
  EXPECT_TRUE(a->roster().empty());
  EXPECT_EQ(b->roster()["rm1@localhost"], "none");
}

// RFC 6121 §4.3.2: a probe is answered by what the probed account's roster says now. An
// online account's subscribers are kept in memory (modules/presence/subscribers.hpp); a
// change made while it is online, by the roster module (a removal) or by a subscription
// stanza, must reach that memory. The probes here are sent by hand, as a server would; the
// "unsubscribed" answering a probe from a non-subscriber changes nothing on the prober's
// side, so its client does not see it (only Bob's presence would show).
TEST_F(Presence, AProbeIsAnsweredByTheRosterAsItIsNow) {
  for (const char* u : {"pr_alice", "pr_bob", "pr_carol"}) add(u);
  auto alice = online("pr_alice", "a");
  auto bob = online("pr_bob", "b");
  auto carol = online("pr_carol", "c");
  befriend(*alice, *bob);
  befriend(*carol, *bob);
  // A presence update reads Bob's roster again: from here on his memory has both subscribers
  // from that snapshot, and only the changes below can take them out.
  bob->send("<presence><show>chat</show></presence>");
  ASSERT_TRUE(alice->expect(presence("pr_bob@localhost/b")));
  ASSERT_TRUE(carol->expect(presence("pr_bob@localhost/b")));
  settle(*alice, *bob);
  auto probe = [](const std::string& to) { return "<presence type='probe' to='" + to + "'/>"; };

  alice->clear();
  alice->send(probe("pr_bob@localhost"));
  EXPECT_TRUE(alice->expect(presence("pr_bob@localhost/b"))) << "a subscriber gets the presence";

  // Bob cancels Alice's subscription with a subscription stanza (the presence module).
  bob->send(sub("pr_alice@localhost", "unsubscribed"));
  ASSERT_TRUE(alice->expect(presence("pr_bob@localhost", "unsubscribed")));
  settle(*alice, *bob);
  alice->clear();
  alice->send(probe("pr_bob@localhost"));
  settle(*alice, *bob);  // the probe and its answer come before the answer to a ping
  EXPECT_EQ(alice->count(presence("pr_bob@localhost/b")), 0u) << "no presence after the cancellation";

  // Bob removes Carol from his roster (the roster module).
  carol->clear();
  carol->send(probe("pr_bob@localhost"));
  EXPECT_TRUE(carol->expect(presence("pr_bob@localhost/b")));
  EXPECT_EQ(bob->iq("rm", "<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='pr_carol@localhost' "
                          "subscription='remove'/></query></iq>").attr("type"), "result");
  ASSERT_TRUE(carol->expect(presence("pr_bob@localhost", "unsubscribed")));
  settle(*carol, *bob);
  carol->clear();
  carol->send(probe("pr_bob@localhost"));
  settle(*carol, *bob);
  EXPECT_EQ(carol->count(presence("pr_bob@localhost/b")), 0u) << "no presence after the removal";
}

// ---- Presence ------------------------------------------------------------------------------

// RFC 6121 §4.2: initial presence probes the contacts one is subscribed to (their available
// resources answer, an offline one is unavailable), goes to the contacts subscribed to us and
// to our own available resources, and brings the presence of our other resources.
TEST_F(Presence, InitialPresenceProbesAndBroadcasts) {
  for (const char* u : {"ip_alice", "ip_bob", "ip_carol", "ip_dave"}) add(u);
  auto alice = online("ip_alice", "setup");
  auto bob = online("ip_bob", "phone");
  auto carol = online("ip_carol", "desk");
  auto dave = online("ip_dave", "desk");
  befriend(*alice, *bob);
  befriend(*alice, *carol);
  // Dave is subscribed to Alice, Alice not to Dave ("from" for Alice).
  dave->send(sub("ip_alice@localhost", "subscribe"));
  ASSERT_TRUE(alice->expect(presence("ip_dave@localhost", "subscribe")));
  alice->send(sub("ip_dave@localhost", "subscribed"));
  ASSERT_TRUE(dave->expect(presence("ip_alice@localhost", "subscribed")));
  carol->logout();  // Carol is offline from now on
  ASSERT_TRUE(alice->expect(presence("ip_carol@localhost/desk", "unavailable")));
  alice->logout();
  ASSERT_TRUE(bob->expect(presence("ip_alice@localhost/setup", "unavailable")));
  bob->send("<presence><show>away</show><status>at lunch</status></presence>");
  bob->barrier();
  auto laptop = online("ip_alice", "laptop", "<presence><priority>5</priority></presence>");
  settle(*bob, *laptop);
  bob->clear();
  dave->barrier();
  dave->clear();
  laptop->clear();

  auto desk = connect("ip_alice", "desk");
  desk->send("<presence><status>hello</status></presence>");
  auto answer = desk->expect(presence("ip_bob@localhost/phone"));
  ASSERT_TRUE(answer) << "Bob's resource answers the probe";
  EXPECT_EQ(status_of(*answer), "at lunch");
  EXPECT_TRUE(desk->expect(presence("ip_carol@localhost", "unavailable")))
      << "Carol has no available resource; got:\n" << desk->kept();
  auto own = desk->expect(presence("ip_alice@localhost/laptop"));
  ASSERT_TRUE(own) << "the other resource's presence";
  EXPECT_EQ(own->find_child("priority", "jabber:client")->text(), "5");
  EXPECT_TRUE(desk->expect(presence("ip_alice@localhost/desk"))) << "its own presence, reflected";
  auto to_bob = bob->expect(presence("ip_alice@localhost/desk"));
  ASSERT_TRUE(to_bob);
  EXPECT_EQ(status_of(*to_bob), "hello");
  EXPECT_TRUE(dave->expect(presence("ip_alice@localhost/desk"))) << "a subscriber Alice is not subscribed to";
  EXPECT_TRUE(laptop->expect(presence("ip_alice@localhost/desk")));
  settle(*desk, *dave);
  EXPECT_EQ(desk->count(presence("ip_dave@localhost/desk")), 0u) << "Alice is not subscribed to Dave";

  // A later presence is broadcast again, without probing.
  desk->clear();
  bob->clear();
  desk->send("<presence><show>dnd</show></presence>");
  auto update = bob->expect(presence("ip_alice@localhost/desk"));
  ASSERT_TRUE(update);
  EXPECT_EQ(update->find_child("show", "jabber:client")->text(), "dnd");
  EXPECT_TRUE(laptop->expect(presence("ip_alice@localhost/desk")));
  settle(*desk, *bob);
  EXPECT_EQ(desk->count(presence("ip_bob@localhost/phone")), 0u) << "no probe for a presence update";
}

// RFC 6121 §4.5: unavailable presence, sent or because the session ended (a clean logout or
// a dropped link), reaches the subscribers and the account's other resources.
TEST_F(Presence, UnavailableOnLogoutAndOnADroppedLink) {
  add("un_alice");
  add("un_bob");
  auto alice = online("un_alice", "setup");
  auto bob = online("un_bob", "phone");
  befriend(*alice, *bob);
  alice->logout();
  ASSERT_TRUE(bob->expect(presence("un_alice@localhost/setup", "unavailable")));

  auto desk = online("un_alice", "desk");
  auto laptop = online("un_alice", "laptop");
  ASSERT_TRUE(bob->expect(presence("un_alice@localhost/desk")));
  ASSERT_TRUE(bob->expect(presence("un_alice@localhost/laptop")));

  desk->send("<presence type='unavailable'><status>gone fishing</status></presence>");
  auto gone = bob->expect(presence("un_alice@localhost/desk", "unavailable"));
  ASSERT_TRUE(gone);
  EXPECT_EQ(status_of(*gone), "gone fishing");
  EXPECT_TRUE(laptop->expect(presence("un_alice@localhost/desk", "unavailable")));
  // Already unavailable: its logout says nothing more.
  desk->logout();

  // A dropped link (the socket closes without </stream:stream>).
  laptop.reset();
  EXPECT_TRUE(bob->expect(presence("un_alice@localhost/laptop", "unavailable")));

  // A clean logout.
  auto tablet = online("un_alice", "tablet");
  ASSERT_TRUE(bob->expect(presence("un_alice@localhost/tablet")));
  tablet->logout();
  EXPECT_TRUE(bob->expect(presence("un_alice@localhost/tablet", "unavailable")));
  bob->barrier();
  EXPECT_EQ(bob->count(presence("un_alice@localhost/desk", "unavailable")), 0u) << "desk said it once";

  // A probe now finds no available resource.
  bob->send("<presence type='probe' to='un_alice@localhost'/>");
  EXPECT_TRUE(bob->expect(presence("un_alice@localhost", "unavailable")));
}

// RFC 6121 §4.6: directed presence to someone without a subscription is remembered: that
// one gets no broadcasts, but gets the unavailable presence, and its probes are answered.
TEST_F(Presence, DirectedPresence) {
  add("dp_alice");
  add("dp_erin");
  add("dp_frank");
  auto alice = online("dp_alice", "desk");
  auto erin = online("dp_erin", "desk");
  auto frank = online("dp_frank", "desk");

  alice->send("<presence to='dp_erin@localhost/desk'><status>psst</status></presence>");
  auto directed = erin->expect(presence("dp_alice@localhost/desk"));
  ASSERT_TRUE(directed);
  EXPECT_EQ(status_of(*directed), "psst");

  erin->send("<presence type='probe' to='dp_alice@localhost'/>");
  EXPECT_TRUE(erin->expect(presence("dp_alice@localhost/desk"))) << "a probe from whom we told";
  // §4.3.2: not a subscriber. Alice's server answers "unsubscribed", which Frank's server
  // takes as the end of a subscription Frank does not have: Frank's client sees nothing.
  frank->send("<presence type='probe' to='dp_alice@localhost'/>");
  frank->barrier();
  EXPECT_EQ(frank->count(presence("dp_alice@localhost", "unsubscribed")), 0u);
  EXPECT_EQ(frank->count(presence("dp_alice@localhost/desk")), 0u);

  alice->send("<presence><show>away</show></presence>");
  settle(*alice, *erin);
  EXPECT_EQ(erin->count(presence("dp_alice@localhost/desk")), 0u) << "broadcasts are for subscribers";

  alice.reset();  // dropped link
  EXPECT_TRUE(erin->expect(presence("dp_alice@localhost/desk", "unavailable")));
  frank->barrier();
  EXPECT_EQ(frank->count(presence("dp_alice@localhost/desk", "unavailable")), 0u);
}

// Stops the server and starts it again on the same configuration and database.
class Restarted {
 public:
  explicit Restarted(TestServer& server) : base_(server.client()) {
    server.process().stop(SIGTERM);
    process_ = std::make_unique<Background>(
        std::vector<std::string>{PARLEY_BINARY, "serve", "--config", server.config_file()});
    if (!process_->wait_for_stderr(" ready", 60)) throw std::runtime_error("no restart:\n" + process_->stderr_text());
    std::smatch m;
    std::string log = process_->stderr_text();
    if (!std::regex_search(log, m, std::regex("listening for c2s on 127\\.0\\.0\\.1:(\\d+)"))) {
      throw std::runtime_error("no c2s port in:\n" + log);
    }
    base_.port = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  ~Restarted() { process_->stop(SIGTERM); }
  ClientOptions client() const { return base_; }

 private:
  ClientOptions base_;
  std::unique_ptr<Background> process_;
};

// "Pending In" is stored: a request survives a restart, status text included.
TEST(PresenceStorage, APendingRequestSurvivesARestart) {
  TestServer server(options());
  server.add_user("alice@localhost", "alice-secret");
  server.add_user("bob@localhost", "bob-secret");
  {
    Peer alice(server.client(), "alice", "desk");
    alice.roster();
    alice.send(sub("bob@localhost", "subscribe", "<status>after the restart?</status>"));
    ASSERT_TRUE(alice.expect(push_of("bob@localhost")));
    alice.barrier();
  }
  Restarted again(server);
  Peer bob(again.client(), "bob", "phone");
  bob.send("<presence/>");
  auto request = bob.expect(presence("alice@localhost", "subscribe"));
  ASSERT_TRUE(request);
  EXPECT_EQ(status_of(*request), "after the restart?");
  bob.send(sub("alice@localhost", "subscribed"));
  bob.barrier();
  EXPECT_EQ(bob.roster()["alice@localhost"], "from");
  Peer alice(again.client(), "alice", "desk");
  EXPECT_EQ(alice.roster()["bob@localhost"], "to");
}

}  // namespace
}  // namespace parley::test
