// XEP-0030 disco#info and disco#items on an account's bare JID, over real TLS against
// `parley serve`, as transcripts: a contact with a presence subscription to alice learns
// what her account supports; a stranger and a name that is no account get the same
// service-unavailable, so accounts cannot be enumerated this way.
#include <gtest/gtest.h>

#include <algorithm>

#include "server/xml/serializer.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using server::xml::Element;

constexpr const char* kInfo = "http://jabber.org/protocol/disco#info";
constexpr const char* kItems = "http://jabber.org/protocol/disco#items";

std::string disco(const std::string& id, const std::string& to, const char* ns) {
  return "<iq type='get' id='" + id + "' to='" + to + "'><query xmlns='" + std::string(ns) + "'/></iq>";
}

std::vector<std::string> features(const Element& reply) {
  std::vector<std::string> out;
  auto* query = reply.find_child("query", kInfo);
  if (query == nullptr) return out;
  for (const auto& f : query->children()) {
    if (f.name() == "feature") out.emplace_back(f.attr("var").value_or(""));
  }
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// The answer as the requester sees it, without what differs by construction (id, from):
// its type and everything inside it.
std::string error_part(const Element& reply) {
  std::string out(reply.attr("type").value_or(""));
  for (const auto& child : reply.children()) out += " " + server::xml::serialize(child);
  return out;
}

class Disco : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    // blocking adds a feature on accounts (add_disco_feature(var, true)).
    options.modules = {"message", "roster", "presence", "disco", "ping", "blocking"};
    server_ = new TestServer(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    static int n = 0;
    ++n;
    for (auto* name : {&alice_, &bob_, &carol_}) {
      *name = (name == &alice_ ? "alice" : name == &bob_ ? "bob" : "carol") + std::to_string(n);
      server_->add_user(*name + "@localhost", "secret");
    }
  }
  std::unique_ptr<Transcript> login(const std::string& user) {
    auto t = std::make_unique<Transcript>(server_->login(user, "secret", "desk"));
    t->send("<presence/>");
    return t;
  }
  // `who` subscribes to `to`'s presence and `to` approves: `to`'s roster item for `who` then
  // has subscription 'from'.
  static void subscribe(Transcript& who, Transcript& to) {
    who.send("<presence type='subscribe' to='" + to.bare() + "'/>");
    ASSERT_TRUE(to.expect([&](const Element& e) {
      return e.name() == "presence" && e.attr("type") == "subscribe";
    })) << to.kept();
    to.send("<presence type='subscribed' to='" + who.bare() + "'/>");
    ASSERT_TRUE(who.expect([&](const Element& e) {
      return e.name() == "presence" && e.attr("type") == "subscribed";
    })) << who.kept();
  }

  static TestServer* server_;
  std::string alice_, bob_, carol_;
};
TestServer* Disco::server_ = nullptr;

TEST_F(Disco, ASubscriberSeesTheAccountsIdentityAndFeatures) {
  auto alice = login(alice_);
  auto bob = login(bob_);
  subscribe(*bob, *alice);

  auto info = bob->iq("i1", disco("i1", alice->bare(), kInfo));
  ASSERT_EQ(info.attr("type"), "result") << error_condition(info);
  EXPECT_EQ(info.attr("from"), alice->bare());
  auto* identity = info.find_child("query", kInfo)->find_child("identity", kInfo);
  ASSERT_NE(identity, nullptr);
  EXPECT_EQ(identity->attr("category"), "account");
  EXPECT_EQ(identity->attr("type"), "registered");
  auto vars = features(info);
  EXPECT_TRUE(has(vars, kInfo));
  EXPECT_TRUE(has(vars, "urn:xmpp:blocking")) << "a feature modules offer on accounts";

  auto items = bob->iq("i2", disco("i2", alice->bare(), kItems));
  ASSERT_EQ(items.attr("type"), "result") << error_condition(items);
  EXPECT_NE(items.find_child("query", kItems), nullptr);

  // The account itself sees the same.
  auto own = alice->iq("i3", disco("i3", alice->bare(), kInfo));
  ASSERT_EQ(own.attr("type"), "result");
  EXPECT_EQ(features(own), vars);
}

TEST_F(Disco, AStrangerAndAnUnknownAccountGetTheSameError) {
  auto alice = login(alice_);
  auto bob = login(bob_);
  auto carol = login(carol_);
  // alice subscribed to carol, not the other way round: carol does not see alice's presence.
  subscribe(*alice, *carol);
  // bob asked for alice's presence, and alice has not approved it.
  bob->send("<presence type='subscribe' to='" + alice->bare() + "'/>");
  bob->barrier();

  for (auto* requester : {carol.get(), bob.get()}) {
    for (const char* ns : {kInfo, kItems}) {
      auto stranger = requester->iq("s1", disco("s1", alice->bare(), ns));
      auto unknown = requester->iq("s2", disco("s2", "nobody-" + alice_ + "@localhost", ns));
      EXPECT_EQ(error_condition(stranger), "service-unavailable") << requester->jid() << " " << ns;
      EXPECT_EQ(error_part(stranger), error_part(unknown)) << requester->jid() << " " << ns;
      auto* echoed = stranger.find_child("query", ns);
      EXPECT_TRUE(echoed == nullptr || echoed->children().empty()) << "nothing of the account comes back";
    }
  }
}

}  // namespace
}  // namespace parley::test
