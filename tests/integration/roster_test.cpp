// The roster (RFC 6121 §2) over real TLS against `parley serve`: get, set, remove, the
// errors of §2.3.3 / §2.5.3, pushes to interested resources, versioning (§2.6), and what is
// stored surviving a restart. Written as transcripts: who sends what, who receives what.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>

#include <deque>
#include <functional>
#include <regex>

#include "server/crypto.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/transcript.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using server::xml::Element;
using Match = std::function<bool(const Element&)>;

constexpr const char* kRosterNs = "jabber:iq:roster";

// A logged-in client whose password is "<user>-secret".
class Peer : public Transcript {
 public:
  Peer(const ClientOptions& options, const std::string& user, const std::string& resource)
      : Transcript(logged_in(options, user, user + "-secret", resource)) {}
};

Match push_of(const std::string& jid) {
  return [jid](const Element& e) {
    if (e.name() != "iq" || e.attr("type") != "set") return false;
    auto* q = e.find_child("query", kRosterNs);
    auto* item = q ? q->find_child("item", kRosterNs) : nullptr;
    return item != nullptr && item->attr("jid") == jid;
  };
}

const Element& push_item(const Element& push) {
  return *push.find_child("query", kRosterNs)->find_child("item", kRosterNs);
}

std::vector<std::string> groups_of(const Element& item) {
  std::vector<std::string> out;
  for (const auto& g : item.children()) {
    if (g.name() == "group") out.push_back(g.text());
  }
  return out;
}

// The items of a roster result, by JID.
std::map<std::string, Element> items_of(const Element& result) {
  std::map<std::string, Element> out;
  if (auto* q = result.find_child("query", kRosterNs)) {
    for (const auto& item : q->children()) out.emplace(std::string(*item.attr("jid")), item);
  }
  return out;
}

std::string roster_set(const std::string& id, const std::string& item) {
  return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:roster'>" + item + "</query></iq>";
}

class Roster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "roster", "presence", "disco", "ping"};
    options.extra_config = "[host.roster]\nmax_items = 4\nmax_name_length = 20\nmax_group_length = 10\n";
    server_ = new TestServer(options);
    for (const char* user : {"alice", "bob", "carol", "dave", "erin"}) {
      server_->add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::unique_ptr<Peer> login(const std::string& user, const std::string& resource) {
    return std::make_unique<Peer>(server_->client(), user, resource);
  }
  static TestServer* server_;
};
TestServer* Roster::server_ = nullptr;

TEST_F(Roster, AddUpdateAndRemoveAnItem) {
  auto alice = login("alice", "desk");
  Element empty = alice->iq("g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_EQ(empty.attr("type"), "result");
  ASSERT_NE(empty.find_child("query", kRosterNs), nullptr);
  EXPECT_TRUE(items_of(empty).empty());

  // Add (§2.3): a result, and a push to the interested resource that asked.
  Element added = alice->iq("s1", roster_set("s1", "<item jid='Bob@LocalHost' name='Bob'><group>Friends</group>"
                                                   "<group>Work</group></item>"));
  EXPECT_EQ(added.attr("type"), "result");
  auto push = alice->expect(push_of("bob@localhost"));
  ASSERT_TRUE(push) << "the item is pushed, with its JID prepared";
  EXPECT_EQ(push->attr("type"), "set");
  EXPECT_FALSE(push->attr("from").has_value() && push->attr("from") != "alice@localhost");
  EXPECT_EQ(push_item(*push).attr("name"), "Bob");
  EXPECT_EQ(push_item(*push).attr("subscription"), "none");
  EXPECT_EQ(groups_of(push_item(*push)), (std::vector<std::string>{"Friends", "Work"}));
  alice->send("<iq type='result' id='" + std::string(*push->attr("id")) + "'/>");  // §2.1.6: clients answer pushes

  Element roster = alice->iq("g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>");
  auto items = items_of(roster);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items.at("bob@localhost").attr("name"), "Bob");
  EXPECT_EQ(items.at("bob@localhost").attr("subscription"), "none");
  EXPECT_FALSE(items.at("bob@localhost").attr("ask"));

  // Update (§2.4): the new name and groups replace the old ones; 'subscription' other than
  // "remove" and 'ask' from a client are ignored (§2.1.2.5, §2.1.2.2).
  Element updated = alice->iq("s2", roster_set("s2", "<item jid='bob@localhost' name='Robert' subscription='both' "
                                                     "ask='subscribe'><group>Family</group></item>"));
  EXPECT_EQ(updated.attr("type"), "result");
  push = alice->expect(push_of("bob@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(push_item(*push).attr("name"), "Robert");
  EXPECT_EQ(push_item(*push).attr("subscription"), "none");
  EXPECT_FALSE(push_item(*push).attr("ask"));
  EXPECT_EQ(groups_of(push_item(*push)), (std::vector<std::string>{"Family"}));

  // An update without name or groups clears them.
  alice->iq("s3", roster_set("s3", "<item jid='bob@localhost'/>"));
  push = alice->expect(push_of("bob@localhost"));
  ASSERT_TRUE(push);
  EXPECT_FALSE(push_item(*push).attr("name"));
  EXPECT_TRUE(groups_of(push_item(*push)).empty());

  // Remove (§2.5): a result and a push with subscription='remove'.
  Element removed = alice->iq("s4", roster_set("s4", "<item jid='bob@localhost' subscription='remove'/>"));
  EXPECT_EQ(removed.attr("type"), "result");
  push = alice->expect(push_of("bob@localhost"));
  ASSERT_TRUE(push);
  EXPECT_EQ(push_item(*push).attr("subscription"), "remove");
  EXPECT_TRUE(items_of(alice->iq("g3", "<iq type='get' id='g3'><query xmlns='jabber:iq:roster'/></iq>")).empty());

  // §2.5.3: removing what is not there.
  Element again = alice->iq("s5", roster_set("s5", "<item jid='bob@localhost' subscription='remove'/>"));
  EXPECT_EQ(error_condition(again), "item-not-found");
}

TEST_F(Roster, PushesGoToEveryInterestedResourceAndOnlyThem) {
  auto desk = login("bob", "desk");
  auto phone = login("bob", "phone");
  auto tablet = login("bob", "tablet");
  desk->iq("g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>");
  phone->send("<presence/>");  // available, but interested only once it asks for the roster
  phone->iq("g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>");
  tablet->send("<presence/>");  // available and never asked: not interested

  Element r = desk->iq("s1", roster_set("s1", "<item jid='carol@localhost' name='Carol'/>"));
  EXPECT_EQ(r.attr("type"), "result");
  EXPECT_TRUE(desk->expect(push_of("carol@localhost"))) << "the resource that made the change";
  EXPECT_TRUE(phone->expect(push_of("carol@localhost"))) << "another interested resource";
  tablet->barrier();
  EXPECT_EQ(tablet->count(push_of("carol@localhost")), 0u) << "a resource that never asked for the roster";

  // A resource that goes away is no longer pushed to; the others still are.
  phone.reset();
  desk->iq("s2", roster_set("s2", "<item jid='carol@localhost' subscription='remove'/>"));
  EXPECT_TRUE(desk->expect(push_of("carol@localhost")));
}

TEST_F(Roster, RosterSetErrors) {
  auto carol = login("carol", "desk");
  auto error_of = [&](const std::string& id, const std::string& query_content) {
    return error_condition(carol->iq(id, "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:roster'>" +
                                             query_content + "</query></iq>"));
  };
  // RFC 6121 §2.3.3
  EXPECT_EQ(error_of("e1", "<item jid='a@localhost'/><item jid='b@localhost'/>"), "bad-request");
  EXPECT_EQ(error_of("e2", ""), "bad-request");
  EXPECT_EQ(error_of("e3", "<item jid='a@localhost'><group>G</group><group>G</group></item>"), "bad-request");
  EXPECT_EQ(error_of("e4", "<item jid='a@localhost' name='a name that is far too long'/>"), "not-acceptable");
  EXPECT_EQ(error_of("e5", "<item jid='a@localhost'><group></group></item>"), "not-acceptable");
  EXPECT_EQ(error_of("e6", "<item jid='a@localhost'><group>longer than ten</group></item>"), "not-acceptable");
  EXPECT_EQ(error_of("e7", "<item name='no jid'/>"), "bad-request");
  EXPECT_EQ(error_of("e8", "<item jid='@localhost'/>"), "jid-malformed");
  EXPECT_EQ(error_of("e9", "<item jid='carol@localhost'/>"), "not-allowed");
  // §2.5.3
  EXPECT_EQ(error_of("e10", "<item jid='nobody@localhost' subscription='remove'/>"), "item-not-found");
  // Nothing of that was stored.
  EXPECT_TRUE(items_of(carol->iq("g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>")).empty());

  // The roster size limit ([host.roster] max_items = 4): the fifth item is refused.
  for (int i = 0; i < 4; ++i) {
    std::string id = "add" + std::to_string(i);
    EXPECT_EQ(carol->iq(id, roster_set(id, "<item jid='c" + std::to_string(i) + "@localhost'/>")).attr("type"), "result");
  }
  EXPECT_EQ(error_of("e11", "<item jid='c4@localhost'/>"), "not-allowed");
  // Updating an item that is there is still fine.
  EXPECT_EQ(carol->iq("u1", roster_set("u1", "<item jid='c0@localhost' name='zero'/>")).attr("type"), "result");
  EXPECT_EQ(items_of(carol->iq("g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>")).size(), 4u);

  // Someone else's roster is nobody's business.
  Element other = carol->iq("o1", "<iq type='get' id='o1' to='dave@localhost'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_EQ(error_condition(other), "forbidden");
  Element other_set = carol->iq("o2", "<iq type='set' id='o2' to='dave@localhost'><query xmlns='jabber:iq:roster'>"
                                      "<item jid='carol@localhost'/></query></iq>");
  EXPECT_EQ(error_condition(other_set), "forbidden");
  // A roster get addressed to one's own bare JID is one's own.
  Element own = carol->iq("o3", "<iq type='get' id='o3' to='carol@localhost'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_EQ(own.attr("type"), "result");
}

TEST_F(Roster, Versioning) {
  auto dave = login("dave", "desk");
  // A client without a cached roster asks with ver='' and gets all of it with a version.
  Element first = dave->iq("v1", "<iq type='get' id='v1'><query xmlns='jabber:iq:roster' ver=''/></iq>");
  auto* q = first.find_child("query", kRosterNs);
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->attr("ver"));
  std::string v0(*q->attr("ver"));

  dave->iq("s1", roster_set("s1", "<item jid='erin@localhost' name='Erin'/>"));
  auto push = dave->expect(push_of("erin@localhost"));
  ASSERT_TRUE(push);
  auto* pq = push->find_child("query", kRosterNs);
  ASSERT_TRUE(pq->attr("ver")) << "a resource using versioning gets the version in pushes";
  std::string v1(*pq->attr("ver"));
  EXPECT_NE(v1, v0);

  // The current version: nothing new, an empty result (§2.6.3).
  Element same = dave->iq("v2", "<iq type='get' id='v2'><query xmlns='jabber:iq:roster' ver='" + v1 + "'/></iq>");
  EXPECT_EQ(same.attr("type"), "result");
  EXPECT_EQ(same.find_child("query", kRosterNs), nullptr);

  // An older version: the whole roster with the current version.
  Element older = dave->iq("v3", "<iq type='get' id='v3'><query xmlns='jabber:iq:roster' ver='" + v0 + "'/></iq>");
  auto* oq = older.find_child("query", kRosterNs);
  ASSERT_NE(oq, nullptr);
  EXPECT_EQ(oq->attr("ver"), v1);
  EXPECT_EQ(items_of(older).count("erin@localhost"), 1u);

  // Every change moves the version on, a removal too.
  dave->iq("s2", roster_set("s2", "<item jid='erin@localhost' subscription='remove'/>"));
  push = dave->expect(push_of("erin@localhost"));
  ASSERT_TRUE(push);
  std::string v2(*push->find_child("query", kRosterNs)->attr("ver"));
  EXPECT_NE(v2, v1);
  Element after = dave->iq("v4", "<iq type='get' id='v4'><query xmlns='jabber:iq:roster' ver='" + v1 + "'/></iq>");
  ASSERT_NE(after.find_child("query", kRosterNs), nullptr);
  EXPECT_EQ(after.find_child("query", kRosterNs)->attr("ver"), v2);
  EXPECT_TRUE(items_of(after).empty());

  // A client that does not use versioning sees no 'ver'.
  auto plain = login("dave", "old-client");
  Element unversioned = plain->iq("v5", "<iq type='get' id='v5'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_NE(unversioned.find_child("query", kRosterNs), nullptr);
  EXPECT_FALSE(unversioned.find_child("query", kRosterNs)->attr("ver"));
}

// Reads from a TLS connection until `marker` shows up (or 5 s pass).
std::string read_until(SSL* ssl, const std::string& marker) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  char buf[4096];
  while (got.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    if (SSL_pending(ssl) == 0) {
      pollfd p{SSL_get_fd(ssl), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
    }
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// RFC 6121 §2.6.1 and §3.4: the stream features after authentication announce roster
// versioning and pre-approvals.
TEST_F(Roster, StreamFeaturesAnnounceVersioningAndPreApproval) {
  XmppClient c(server_->client(true));
  ASSERT_TRUE(c.open_stream());
  ASSERT_EQ(c.authenticate("PLAIN", "erin", "erin-secret"), "");
  // The restarted stream, read raw (the test client keeps no parser state for it).
  std::string header = "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
                       "xmlns:stream='http://etherx.jabber.org/streams'>";
  ASSERT_GT(SSL_write(c.ssl(), header.data(), static_cast<int>(header.size())), 0);
  std::string features = read_until(c.ssl(), "</stream:features>");
  ASSERT_NE(features.find("</stream:features>"), std::string::npos) << features;
  EXPECT_NE(features.find("urn:xmpp:features:rosterver"), std::string::npos) << features;
  EXPECT_NE(features.find("urn:xmpp:features:pre-approval"), std::string::npos) << features;
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

// A server of its own, since it is restarted.
TEST(RosterStorage, ItemsSurviveARestart) {
  TestServerOptions options;
  options.modules = {"message", "roster", "presence", "disco", "ping"};
  TestServer server(options);
  server.add_user("alice@localhost", "alice-secret");
  std::string version;
  {
    Peer alice(server.client(), "alice", "desk");
    alice.iq("s1", roster_set("s1", "<item jid='bob@localhost' name='Bob'><group>Friends</group>"
                                    "<group>Chess club</group></item>"));
    alice.iq("s2", roster_set("s2", "<item jid='carol@localhost'/>"));
    Element r = alice.iq("g1", "<iq type='get' id='g1'><query xmlns='jabber:iq:roster' ver=''/></iq>");
    version = std::string(*r.find_child("query", kRosterNs)->attr("ver"));
  }
  Restarted again(server);
  Peer alice(again.client(), "alice", "desk");
  Element r = alice.iq("g2", "<iq type='get' id='g2'><query xmlns='jabber:iq:roster' ver=''/></iq>");
  auto items = items_of(r);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items.at("bob@localhost").attr("name"), "Bob");
  EXPECT_EQ(groups_of(items.at("bob@localhost")), (std::vector<std::string>{"Friends", "Chess club"}));
  EXPECT_FALSE(items.at("carol@localhost").attr("name"));
  EXPECT_EQ(r.find_child("query", kRosterNs)->attr("ver"), version) << "the version is stored too";
  Element same = alice.iq("g3", "<iq type='get' id='g3'><query xmlns='jabber:iq:roster' ver='" + version + "'/></iq>");
  EXPECT_EQ(same.find_child("query", kRosterNs), nullptr);
}

}  // namespace
}  // namespace parley::test
