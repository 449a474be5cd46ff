// XEP-0049 private XML storage over real TLS against `parley serve`: a fragment stored by
// one session is read back by another, nobody else reaches it, and the limits hold.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kPrivateNs = "jabber:iq:private";

std::optional<Element> ask(XmppClient& c, const std::string& id, const std::string& xml) {
  c.send(xml);
  for (;;) {
    auto e = c.receive(10s);
    if (!e) return std::nullopt;
    if (e->name() == "iq" && e->attr("id") == id) return e;
  }
}

std::string set(const std::string& id, const std::string& fragments) {
  return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:private'>" + fragments + "</query></iq>";
}

// The one fragment in a get result, or nullopt.
std::optional<Element> fragment(const std::optional<Element>& result) {
  if (!result || result->attr("type") != "result") return std::nullopt;
  auto* query = result->find_child("query", kPrivateNs);
  if (query == nullptr) return std::nullopt;
  for (const auto& child : query->children()) return child;
  return std::nullopt;
}

const char* kBookmarks =
    "<storage xmlns='storage:bookmarks'><conference jid='council@conference.example.org' autojoin='true' "
    "name='The &amp; Council'><nick>Romeo</nick><password>not-stored-in-logs</password></conference>"
    "<url name='Home' url='https://example.org/?a=1&amp;b=2'/></storage>";

class Private : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "blocking", "vcard", "private", "register", "disco", "ping"};
    options.extra_config = "[host.private]\nmax_bytes = 2048\nmax_total_bytes = 6000\n";
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
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource = "res") {
    return server_->login(user, "secret", resource);
  }

  static TestServer* server_;
  std::string alice_, bob_;
};
TestServer* Private::server_ = nullptr;

TEST_F(Private, AStoredFragmentComesBackToAnotherSession) {
  auto phone = login(alice_, "phone");
  auto r = ask(*phone, "s1", set("s1", kBookmarks));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->attr("type"), "result") << error_condition(*r);

  auto laptop = login(alice_, "laptop");
  auto got = fragment(ask(*laptop, "g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, parse_xml(kBookmarks));
}

TEST_F(Private, NothingStoredAnswersTheEmptyElement) {
  auto alice = login(alice_);
  auto got = fragment(ask(*alice, "g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name(), "prefs");
  EXPECT_EQ(got->ns(), "urn:example:prefs");
  EXPECT_TRUE(got->children().empty());
}

TEST_F(Private, FragmentsAreKeptPerNamespaceAndElementAndReplaced) {
  auto alice = login(alice_);
  ASSERT_EQ(ask(*alice, "s1", set("s1", "<prefs xmlns='urn:a'><v>1</v></prefs>"))->attr("type"), "result");
  ASSERT_EQ(ask(*alice, "s2", set("s2", "<prefs xmlns='urn:b'><v>2</v></prefs>"))->attr("type"), "result");
  ASSERT_EQ(ask(*alice, "s3", set("s3", "<other xmlns='urn:a'><v>3</v></other>"))->attr("type"), "result");
  ASSERT_EQ(ask(*alice, "s4", set("s4", "<prefs xmlns='urn:a'><v>4</v></prefs>"))->attr("type"), "result");
  auto a = fragment(ask(*alice, "g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:a'/></query></iq>"));
  auto b = fragment(ask(*alice, "g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:private'><prefs xmlns='urn:b'/></query></iq>"));
  auto other = fragment(ask(*alice, "g3", "<iq type='get' id='g3'><query xmlns='jabber:iq:private'><other xmlns='urn:a'/></query></iq>"));
  ASSERT_TRUE(a && b && other);
  EXPECT_EQ(a->find_child("v", "urn:a")->text(), "4");
  EXPECT_EQ(b->find_child("v", "urn:b")->text(), "2");
  EXPECT_EQ(other->find_child("v", "urn:a")->text(), "3");
}

TEST_F(Private, AnotherUsersDataIsForbidden) {
  auto alice = login(alice_);
  ASSERT_EQ(ask(*alice, "s1", set("s1", kBookmarks))->attr("type"), "result");
  auto bob = login(bob_);
  auto get = ask(*bob, "g1", "<iq type='get' id='g1' to='" + alice_ + "@localhost'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(error_condition(*get), "forbidden");
  auto put = ask(*bob, "s2", "<iq type='set' id='s2' to='" + alice_ + "@localhost'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(error_condition(*put), "forbidden");
  // Bob's own storage is his: alice's bookmarks are not there.
  auto own = fragment(ask(*bob, "g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"));
  ASSERT_TRUE(own.has_value());
  EXPECT_TRUE(own->children().empty());
  // And alice's survived bob's attempt.
  auto still = fragment(ask(*alice, "g3", "<iq type='get' id='g3'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"));
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(*still, parse_xml(kBookmarks));
}

TEST_F(Private, ReservedNamespacesAndEmptyQueriesAreNotAcceptable) {
  auto alice = login(alice_);
  auto empty = ask(*alice, "e1", set("e1", ""));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(error_condition(*empty), "not-acceptable");
  auto empty_get = ask(*alice, "e2", "<iq type='get' id='e2'><query xmlns='jabber:iq:private'/></iq>");
  ASSERT_TRUE(empty_get.has_value());
  EXPECT_EQ(error_condition(*empty_get), "not-acceptable");
  // A child without a namespace of its own inherits jabber:iq:private.
  auto unqualified = ask(*alice, "e3", set("e3", "<prefs/>"));
  ASSERT_TRUE(unqualified.has_value());
  EXPECT_EQ(error_condition(*unqualified), "not-acceptable");
  auto client = ask(*alice, "e4", set("e4", "<body xmlns='jabber:client'>x</body>"));
  ASSERT_TRUE(client.has_value());
  EXPECT_EQ(error_condition(*client), "not-acceptable");
  auto two = ask(*alice, "e5", "<iq type='get' id='e5'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(error_condition(*two), "bad-request");  // one namespace per get
}

TEST_F(Private, TheLimitsHoldAndNothingIsHalfStored) {
  auto alice = login(alice_);
  auto big = ask(*alice, "b1", set("b1", "<big xmlns='urn:big'>" + std::string(3000, 'x') + "</big>"));
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(error_condition(*big), "policy-violation");
  EXPECT_EQ(big->find_child("query", kPrivateNs), nullptr) << "the refused data is not echoed back";

  // Each fragment fits, but together they pass the account's total.
  std::string fill(1800, 'y');
  for (const char* ns : {"urn:1", "urn:2", "urn:3"}) {
    auto r = ask(*alice, ns, "<iq type='set' id='" + std::string(ns) + "'><query xmlns='jabber:iq:private'><f xmlns='" + ns + "'>" + fill + "</f></query></iq>");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->attr("type"), "result") << ns;
  }
  auto over = ask(*alice, "o1", "<iq type='set' id='o1'><query xmlns='jabber:iq:private'><f xmlns='urn:4'>" + fill + "</f></query></iq>");
  ASSERT_TRUE(over.has_value());
  EXPECT_EQ(error_condition(*over), "policy-violation");
  auto absent = fragment(ask(*alice, "g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:private'><f xmlns='urn:4'/></query></iq>"));
  ASSERT_TRUE(absent.has_value());
  EXPECT_TRUE(absent->nodes().empty());
  // Replacing a fragment with a smaller one still fits.
  auto smaller = ask(*alice, "r1", set("r1", "<f xmlns='urn:1'>small</f>"));
  ASSERT_TRUE(smaller.has_value());
  EXPECT_EQ(smaller->attr("type"), "result");
}

}  // namespace
}  // namespace parley::test
