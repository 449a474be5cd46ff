// Message Archive Management (XEP-0313) over real TLS against `parley serve`, written as
// transcripts: what users send, what the archive gives back when they ask.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "tests/support/restartable_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kMam = "urn:xmpp:mam:2";
const char* kRsm = "http://jabber.org/protocol/rsm";
const char* kForward = "urn:xmpp:forward:0";

std::string child_text(const Element* e, const char* name, const char* ns) {
  auto* c = e ? e->find_child(name, ns) : nullptr;
  return c ? c->text() : "";
}

// The stanza-ids of a delivered message, as (by, id).
std::vector<std::pair<std::string, std::string>> stanza_ids(const Element& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& c : m.children()) {
    if (c.name() == "stanza-id" && c.ns() == "urn:xmpp:sid:0") {
      out.emplace_back(c.attr("by").value_or(""), c.attr("id").value_or(""));
    }
  }
  return out;
}

// Pings the server and returns what arrived before the answer: the server has dealt with
// everything this client sent before.
std::vector<Element> sync(XmppClient& c) {
  static int n = 0;
  std::string id = "sync-" + std::to_string(++n);
  c.send("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::vector<Element> got;
  for (;;) {
    auto e = c.receive(20s);
    if (!e) {
      ADD_FAILURE() << "no answer to the ping";
      return got;
    }
    if (e->name() == "iq" && e->attr("id") == id) return got;
    got.push_back(std::move(*e));
  }
}

// Sends `count` chat messages to `to`, pipelined: a hundred stanzas per write, without
// waiting for anything; bodies are "<prefix><n>" with n zero-padded to four digits.
void send_many(XmppClient& c, const std::string& to, int count, const std::string& prefix) {
  std::string batch;
  for (int i = 0; i < count; ++i) {
    char n[8];
    std::snprintf(n, sizeof n, "%04d", i);
    batch += "<message type='chat' to='" + to + "' id='" + prefix + n + "'><body>" + prefix + n + "</body></message>";
    if (i % 100 == 99 || i + 1 == count) {
      c.send(batch);
      batch.clear();
    }
  }
}

/// One archive query's answer: the result messages and the final iq.
struct Answer {
  std::vector<Element> results;  // the <result/> elements
  std::vector<Element> messages;  // the forwarded messages, in the order received
  std::optional<Element> iq;
  std::string condition() const { return iq ? error_condition(*iq) : "timeout"; }
  const Element* fin() const { return iq ? iq->find_child("fin", kMam) : nullptr; }
  const Element* set() const { return fin() ? fin()->find_child("set", kRsm) : nullptr; }
  bool complete() const { return fin() && fin()->attr("complete") == "true"; }
  std::string first() const { return child_text(set(), "first", kRsm); }
  std::string last() const { return child_text(set(), "last", kRsm); }
  std::string first_index() const {
    auto* f = set() ? set()->find_child("first", kRsm) : nullptr;
    return f ? std::string(f->attr("index").value_or("")) : "";
  }
  long count() const {
    auto t = child_text(set(), "count", kRsm);
    return t.empty() ? -1 : std::stol(t);
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& r : results) out.emplace_back(r.attr("id").value_or(""));
    return out;
  }
  std::vector<std::string> bodies() const {
    std::vector<std::string> out;
    for (const auto& m : messages) out.push_back(body(m));
    return out;
  }
};

// Queries the archive with form fields (var -> value; "ids" may repeat) and an RSM part.
Answer query(XmppClient& c, const std::vector<std::pair<std::string, std::string>>& fields,
             const std::string& rsm = "", const std::string& extra = "") {
  static int n = 0;
  std::string qid = "q" + std::to_string(++n);
  std::string xml = "<iq type='set' id='" + qid + "'><query xmlns='urn:xmpp:mam:2' queryid='" + qid + "'>";
  xml += "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>";
  std::string last_var;
  for (const auto& [var, value] : fields) {
    if (var != last_var) {
      if (!last_var.empty()) xml += "</field>";
      xml += "<field var='" + var + "'>";
      last_var = var;
    }
    xml += "<value>" + value + "</value>";
  }
  if (!last_var.empty()) xml += "</field>";
  xml += "</x>";
  if (!rsm.empty()) xml += "<set xmlns='http://jabber.org/protocol/rsm'>" + rsm + "</set>";
  xml += extra + "</query></iq>";
  c.send(xml);
  Answer a;
  for (;;) {
    auto e = c.receive(20s);
    if (!e) return a;
    if (e->name() == "iq" && e->attr("id") == qid) {
      a.iq = std::move(*e);
      return a;
    }
    auto* result = e->name() == "message" ? e->find_child("result", kMam) : nullptr;
    if (result == nullptr || result->attr("queryid") != qid) continue;
    EXPECT_EQ(e->attr("from"), c.jid().substr(0, c.jid().find('/'))) << "results come from the archive";
    auto* forwarded = result->find_child("forwarded", kForward);
    auto* inner = forwarded ? forwarded->find_child("message", "jabber:client") : nullptr;
    if (inner == nullptr) {
      ADD_FAILURE() << "a result without a forwarded message";
      continue;
    }
    a.messages.push_back(*inner);
    a.results.push_back(*result);
  }
}

// The delay stamp of a result.
std::string stamp(const Element& result) {
  auto* delay = result.find_child("forwarded", kForward)->find_child("delay", "urn:xmpp:delay");
  return delay ? std::string(delay->attr("stamp").value_or("")) : "";
}

// Waits until the archive holds `n` messages (writes are batched, up to 50 ms behind).
bool wait_for_count(XmppClient& c, long n, std::chrono::seconds limit = 10s) {
  auto until = std::chrono::steady_clock::now() + limit;
  long seen = -2;
  while (std::chrono::steady_clock::now() < until) {
    seen = query(c, {}, "<max>0</max>").count();
    if (seen == n) return true;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "the archive holds " << seen << " messages, not " << n;
  return false;
}

class Mam : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "mam", "disco", "ping"};
    options.extra_config = "[host.mam]\nmax_page = 100\n";
    server_ = new RestartableServer(options);
    for (const char* user : {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}) {
      server_->add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, user + "-secret", resource);
  }
  static RestartableServer* server_;
};
RestartableServer* Mam::server_ = nullptr;

TEST_F(Mam, DiscoAdvertisesMamOnTheAccount) {
  auto heidi = login("heidi", "desk");
  heidi->send("<iq type='get' id='d1' to='heidi@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto reply = heidi->receive_named("iq");
  ASSERT_TRUE(reply);
  std::vector<std::string> features;
  for (const auto& f : reply->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    features.emplace_back(f.attr("var").value_or(""));
  }
  EXPECT_NE(std::find(features.begin(), features.end(), "urn:xmpp:mam:2"), features.end());
  EXPECT_NE(std::find(features.begin(), features.end(), "urn:xmpp:mam:2#extended"), features.end());
}

TEST_F(Mam, DeliveredMessagesCarryTheArchiveIdAndBothSidesArchive) {
  auto alice = login("alice", "desk");
  auto bob = login("bob", "phone");
  bob->send("<presence/>");
  sync(*bob);
  // A stanza-id in bob's name that alice made up is removed; one by someone else stays.
  alice->send("<message to='bob@localhost' type='chat' id='hello'><body>hello bob</body>"
              "<stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/>"
              "<stanza-id xmlns='urn:xmpp:sid:0' by='room@elsewhere.example' id='theirs'/></message>");
  auto got = bob->receive_named("message");
  ASSERT_TRUE(got);
  auto sids = stanza_ids(*got);
  ASSERT_EQ(sids.size(), 2u);
  EXPECT_EQ(sids[0], (std::pair<std::string, std::string>{"room@elsewhere.example", "theirs"}));
  EXPECT_EQ(sids[1].first, "bob@localhost");
  EXPECT_NE(sids[1].second, "forged");
  const std::string archive_id = sids[1].second;
  EXPECT_TRUE(std::regex_match(archive_id, std::regex("[0-9a-z]{13}"))) << archive_id;

  // Bob's archive: the message as received, under the id he was told.
  ASSERT_TRUE(wait_for_count(*bob, 1));
  auto b = query(*bob, {});
  ASSERT_EQ(b.results.size(), 1u);
  EXPECT_EQ(b.ids(), std::vector<std::string>{archive_id});
  EXPECT_EQ(b.bodies(), std::vector<std::string>{"hello bob"});
  EXPECT_EQ(b.messages[0].attr("from"), "alice@localhost/desk");
  EXPECT_EQ(b.messages[0].attr("id"), "hello");
  EXPECT_EQ(stanza_ids(b.messages[0]).size(), 1u) << "the forged stanza-id is not archived either";
  EXPECT_TRUE(std::regex_match(stamp(b.results[0]), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
  EXPECT_TRUE(b.complete());
  EXPECT_EQ(b.count(), 1);
  EXPECT_EQ(b.first(), archive_id);
  EXPECT_EQ(b.last(), archive_id);
  EXPECT_EQ(b.fin()->attr("stable"), "true");

  // Alice's archive: the message she sent (outgoing), under her own id.
  ASSERT_TRUE(wait_for_count(*alice, 1));
  auto a = query(*alice, {{"with", "bob@localhost"}});
  ASSERT_EQ(a.results.size(), 1u);
  EXPECT_NE(a.ids()[0], archive_id) << "each archive has its own ids";
  EXPECT_EQ(a.messages[0].attr("to"), "bob@localhost");
  EXPECT_EQ(a.messages[0].attr("from"), "alice@localhost/desk");
  EXPECT_EQ(body(a.messages[0]), "hello bob");

  // What alice sent carries no stanza-id of hers (XEP-0313 §3.5): bob saw only his own.
  // Bob's answer is archived on both sides too.
  bob->send("<message to='alice@localhost/desk' type='chat' id='re'><body>hi alice</body></message>");
  auto reply = alice->receive_named("message");
  ASSERT_TRUE(reply);
  ASSERT_EQ(stanza_ids(*reply).size(), 1u);
  EXPECT_EQ(stanza_ids(*reply)[0].first, "alice@localhost");
  ASSERT_TRUE(wait_for_count(*alice, 2));
  EXPECT_EQ(query(*alice, {}).bodies(), (std::vector<std::string>{"hello bob", "hi alice"}));
  EXPECT_EQ(query(*alice, {}).ids()[1], stanza_ids(*reply)[0].second);
  ASSERT_TRUE(wait_for_count(*bob, 2));
}

TEST_F(Mam, PagingThroughAThousandMessages) {
  auto carol = login("carol", "desk");
  auto dave = login("dave", "phone");
  dave->send("<presence/>");
  sync(*dave);
  send_many(*carol, "dave@localhost", 1000, "p");
  sync(*carol);
  ASSERT_TRUE(wait_for_count(*dave, 1000, 30s));

  // Forwards, a capped page at a time (max_page = 100, asked for 500), until complete.
  std::vector<std::string> ids, bodies;
  std::string after;
  for (int page = 0; page < 12; ++page) {
    auto a = query(*dave, {}, "<max>500</max>" + (after.empty() ? "" : "<after>" + after + "</after>"));
    ASSERT_EQ(a.condition(), "");
    EXPECT_EQ(a.count(), 1000);
    EXPECT_EQ(a.first_index(), std::to_string(ids.size()));
    ASSERT_EQ(a.results.size(), 100u) << "page " << page;
    EXPECT_EQ(a.first(), a.ids().front());
    EXPECT_EQ(a.last(), a.ids().back());
    for (auto& id : a.ids()) ids.push_back(id);
    for (auto& b : a.bodies()) bodies.push_back(b);
    after = a.last();
    if (a.complete()) break;
  }
  ASSERT_EQ(ids.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    char n[8];
    std::snprintf(n, sizeof n, "p%04d", i);
    EXPECT_EQ(bodies[i], n) << "in the order they were sent";
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1000u);
  // After the last one: an empty, complete page.
  auto end = query(*dave, {}, "<max>10</max><after>" + ids.back() + "</after>");
  EXPECT_TRUE(end.results.empty());
  EXPECT_TRUE(end.complete());
  EXPECT_EQ(end.count(), 1000);

  // Backwards: an empty <before/> is the last page, still in chronological order.
  auto last = query(*dave, {}, "<max>10</max><before/>");
  EXPECT_EQ(last.ids(), std::vector<std::string>(ids.end() - 10, ids.end()));
  EXPECT_FALSE(last.complete());
  EXPECT_EQ(last.first_index(), "990");
  auto previous = query(*dave, {}, "<max>10</max><before>" + last.first() + "</before>");
  EXPECT_EQ(previous.ids(), std::vector<std::string>(ids.end() - 20, ids.end() - 10));
  auto start = query(*dave, {}, "<max>10</max><before>" + ids[5] + "</before>");
  EXPECT_EQ(start.ids(), std::vector<std::string>(ids.begin(), ids.begin() + 5));
  EXPECT_TRUE(start.complete()) << "paging backwards reached the start";

  // By index (XEP-0059), and a flipped page (newest first, same set).
  auto index = query(*dave, {}, "<max>3</max><index>500</index>");
  EXPECT_EQ(index.ids(), std::vector<std::string>(ids.begin() + 500, ids.begin() + 503));
  EXPECT_EQ(index.first_index(), "500");
  auto flipped = query(*dave, {}, "<max>3</max><index>500</index>", "<flip-page/>");
  EXPECT_EQ(flipped.ids(), (std::vector<std::string>{ids[502], ids[501], ids[500]}));
  EXPECT_EQ(flipped.first(), ids[500]);

  // Only the count.
  auto count = query(*dave, {}, "<max>0</max>");
  EXPECT_TRUE(count.results.empty());
  EXPECT_EQ(count.count(), 1000);
  EXPECT_EQ(count.first(), "");

  // The sender archived all thousand too.
  ASSERT_TRUE(wait_for_count(*carol, 1000, 30s));
  auto sent = query(*carol, {{"with", "dave@localhost"}}, "<max>2</max><before/>");
  EXPECT_EQ(sent.bodies(), (std::vector<std::string>{"p0998", "p0999"}));
}

TEST_F(Mam, EveryFilter) {
  auto erin = login("erin", "desk");
  auto frank = login("frank", "r1");
  auto grace = login("grace", "laptop");
  // Frank sends five, grace three, one per few milliseconds so that timestamps differ.
  for (int i = 0; i < 5; ++i) {
    frank->send("<message type='chat' to='erin@localhost' id='f" + std::to_string(i) + "'><body>frank " +
                std::to_string(i) + "</body></message>");
    sync(*frank);
    std::this_thread::sleep_for(5ms);
    if (i < 3) {
      grace->send("<message type='chat' to='erin@localhost' id='g" + std::to_string(i) + "'><body>grace " +
                  std::to_string(i) + "</body></message>");
      sync(*grace);
      std::this_thread::sleep_for(5ms);
    }
  }
  ASSERT_TRUE(wait_for_count(*erin, 8));
  auto all = query(*erin, {});
  ASSERT_EQ(all.bodies(), (std::vector<std::string>{"frank 0", "grace 0", "frank 1", "grace 1", "frank 2", "grace 2",
                                                    "frank 3", "frank 4"}));
  auto ids = all.ids();

  // with: a bare JID matches every resource; a full JID only itself.
  EXPECT_EQ(query(*erin, {{"with", "frank@localhost"}}).bodies(),
            (std::vector<std::string>{"frank 0", "frank 1", "frank 2", "frank 3", "frank 4"}));
  EXPECT_EQ(query(*erin, {{"with", "frank@localhost/r1"}}).results.size(), 5u);
  EXPECT_EQ(query(*erin, {{"with", "frank@localhost/r2"}}).results.size(), 0u);
  auto g = query(*erin, {{"with", "grace@localhost"}});
  EXPECT_EQ(g.bodies(), (std::vector<std::string>{"grace 0", "grace 1", "grace 2"}));
  EXPECT_EQ(g.count(), 3);

  // start / end: inclusive, on the stamps the archive gave.
  std::string s2 = stamp(all.results[2]), s5 = stamp(all.results[5]);
  EXPECT_EQ(query(*erin, {{"start", s5}}).bodies(), (std::vector<std::string>{"grace 2", "frank 3", "frank 4"}));
  EXPECT_EQ(query(*erin, {{"end", s2}}).bodies(), (std::vector<std::string>{"frank 0", "grace 0", "frank 1"}));
  EXPECT_EQ(query(*erin, {{"start", s2}, {"end", s5}}).ids(), std::vector<std::string>(ids.begin() + 2, ids.begin() + 6));
  EXPECT_EQ(query(*erin, {{"start", s2}, {"end", s2}}).ids(), std::vector<std::string>{ids[2]});
  EXPECT_EQ(query(*erin, {{"start", "2000-01-01T00:00:00+01:00"}, {"end", "2000-01-02T00:00:00Z"}}).results.size(), 0u);
  EXPECT_EQ(query(*erin, {{"start", s2}, {"with", "grace@localhost"}}).bodies(),
            (std::vector<std::string>{"grace 1", "grace 2"}));

  // after-id / before-id: exclusive bounds, without paging backwards.
  EXPECT_EQ(query(*erin, {{"after-id", ids[1]}, {"before-id", ids[5]}}).ids(),
            std::vector<std::string>(ids.begin() + 2, ids.begin() + 5));
  EXPECT_EQ(query(*erin, {{"before-id", ids[5]}}, "<max>2</max>").ids(), (std::vector<std::string>{ids[0], ids[1]}));
  EXPECT_EQ(query(*erin, {{"after-id", ids[6]}}).ids(), std::vector<std::string>{ids[7]});

  // ids: exactly those, in archive order.
  auto picked = query(*erin, {{"ids", ids[6]}, {"ids", ids[1]}});
  EXPECT_EQ(picked.ids(), (std::vector<std::string>{ids[1], ids[6]}));
  EXPECT_TRUE(picked.complete());
  EXPECT_EQ(query(*erin, {{"ids", ids[6]}, {"ids", ids[1]}, {"with", "grace@localhost"}}).ids(),
            std::vector<std::string>{ids[1]});

  // Ids that are not in this archive: item-not-found, whichever way they are named.
  auto others = query(*frank, {});  // frank's own archive has other ids
  ASSERT_FALSE(others.ids().empty());
  const std::string foreign = others.ids()[0];
  EXPECT_EQ(query(*erin, {{"ids", ids[0]}, {"ids", foreign}}).condition(), "item-not-found");
  EXPECT_EQ(query(*erin, {{"after-id", foreign}}).condition(), "item-not-found");
  EXPECT_EQ(query(*erin, {{"before-id", "not-an-id"}}).condition(), "item-not-found");
  EXPECT_EQ(query(*erin, {}, "<after>" + foreign + "</after>").condition(), "item-not-found");
  EXPECT_EQ(query(*erin, {}, "<before>" + foreign + "</before>").condition(), "item-not-found");

  // Malformed requests.
  EXPECT_EQ(query(*erin, {{"start", "last tuesday"}}).condition(), "bad-request");
  EXPECT_EQ(query(*erin, {{"with", "@nobody"}}).condition(), "bad-request");
  EXPECT_EQ(query(*erin, {}, "<max>lots</max>").condition(), "bad-request");
  EXPECT_EQ(query(*erin, {{"free-text", "x"}}).condition(), "feature-not-implemented");

  // Someone else's archive is forbidden.
  grace->send("<iq type='set' id='peek' to='erin@localhost'><query xmlns='urn:xmpp:mam:2'/></iq>");
  auto peek = grace->receive_named("iq");
  ASSERT_TRUE(peek);
  EXPECT_EQ(error_condition(*peek), "forbidden");
}

TEST_F(Mam, FormDiscoveryAndMetadata) {
  auto ivan = login("ivan", "desk");
  ivan->send("<iq type='get' id='form'><query xmlns='urn:xmpp:mam:2'/></iq>");
  auto form = ivan->receive_named("iq");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->attr("type"), "result");
  auto* x = form->find_child("query", kMam)->find_child("x", "jabber:x:data");
  ASSERT_NE(x, nullptr);
  std::vector<std::string> vars;
  for (const auto& f : x->children()) vars.emplace_back(f.attr("var").value_or(""));
  EXPECT_EQ(vars, (std::vector<std::string>{"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"}));

  ivan->send("<iq type='get' id='meta0'><metadata xmlns='urn:xmpp:mam:2'/></iq>");
  auto empty = ivan->receive_named("iq");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->find_child("metadata", kMam)->children().empty(), true) << "an empty archive";

  ivan->send("<presence/>");
  for (int i = 0; i < 3; ++i) ivan->send("<message type='chat' to='ivan@localhost'><body>note</body></message>");
  ASSERT_TRUE(wait_for_count(*ivan, 3));
  auto all = query(*ivan, {});
  ASSERT_EQ(all.results.size(), 3u) << "a message to oneself is archived once";
  ivan->send("<iq type='get' id='meta'><metadata xmlns='urn:xmpp:mam:2'/></iq>");
  auto meta = ivan->receive_named("iq");
  ASSERT_TRUE(meta);
  auto* m = meta->find_child("metadata", kMam);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->find_child("start", kMam), nullptr);
  EXPECT_EQ(m->find_child("start", kMam)->attr("id"), all.ids().front());
  EXPECT_EQ(m->find_child("end", kMam)->attr("id"), all.ids().back());
  EXPECT_EQ(m->find_child("end", kMam)->attr("timestamp"), stamp(all.results.back()));
}

// XEP-0441 preferences: what is set is what is in force, in both directions.
TEST_F(Mam, PreferencesNeverAndAlways) {
  auto grace = login("grace", "prefs");
  auto heidi = login("heidi", "prefs");
  heidi->send("<presence/>");
  grace->send("<presence/>");
  sync(*heidi);
  sync(*grace);
  auto prefs = [](XmppClient& c, const std::string& xml) {
    c.send(xml);
    auto r = c.receive_named("iq");
    return r ? *r : Element("none", "");
  };
  // The default, before anything was set.
  auto initial = prefs(*heidi, "<iq type='get' id='p0'><prefs xmlns='urn:xmpp:mam:2'/></iq>");
  EXPECT_EQ(initial.find_child("prefs", kMam)->attr("default"), "always");

  long before = query(*heidi, {}, "<max>0</max>").count();
  // never, except grace.
  auto set = prefs(*heidi, "<iq type='set' id='p1'><prefs xmlns='urn:xmpp:mam:2' default='never'>"
                           "<always><jid>grace@localhost</jid></always><never/></prefs></iq>");
  EXPECT_EQ(set.attr("type"), "result");
  auto got = prefs(*heidi, "<iq type='get' id='p2'><prefs xmlns='urn:xmpp:mam:2'/></iq>");
  auto* p = got.find_child("prefs", kMam);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->attr("default"), "never");
  EXPECT_EQ(child_text(p->find_child("always", kMam), "jid", kMam), "grace@localhost");

  auto frank = login("frank", "prefs");
  frank->send("<message type='chat' to='heidi@localhost' id='nf'><body>not kept</body></message>");
  auto m1 = heidi->receive_named("message");
  ASSERT_TRUE(m1);
  EXPECT_TRUE(stanza_ids(*m1).empty()) << "not archived, so no archive id";
  grace->send("<message type='chat' to='heidi@localhost' id='kg'><body>kept</body></message>");
  auto m2 = heidi->receive_named("message");
  ASSERT_TRUE(m2);
  EXPECT_EQ(stanza_ids(*m2).size(), 1u);
  // Outgoing: heidi's message to frank is not archived, to grace it is.
  heidi->send("<message type='chat' to='frank@localhost' id='hf'><body>to frank</body></message>");
  heidi->send("<message type='chat' to='grace@localhost' id='hg'><body>to grace</body></message>");
  sync(*heidi);
  ASSERT_TRUE(wait_for_count(*heidi, before + 2));
  EXPECT_EQ(query(*heidi, {}, "<max>2</max><before/>").bodies(), (std::vector<std::string>{"kept", "to grace"}));

  // always, except frank (by full JID: only that resource).
  prefs(*heidi, "<iq type='set' id='p3'><prefs xmlns='urn:xmpp:mam:2' default='always'>"
                "<never><jid>frank@localhost/prefs</jid></never></prefs></iq>");
  frank->send("<message type='chat' to='heidi@localhost'><body>still not kept</body></message>");
  grace->send("<message type='chat' to='heidi@localhost'><body>kept again</body></message>");
  sync(*frank);
  sync(*grace);
  ASSERT_TRUE(wait_for_count(*heidi, before + 3));
  EXPECT_EQ(query(*heidi, {}, "<max>1</max><before/>").bodies(), std::vector<std::string>{"kept again"});

  // Bad preferences change nothing.
  auto bad = prefs(*heidi, "<iq type='set' id='p4'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>");
  EXPECT_EQ(error_condition(bad), "bad-request");
  // Back to the default for the other tests.
  prefs(*heidi, "<iq type='set' id='p5'><prefs xmlns='urn:xmpp:mam:2' default='always'/></iq>");
}

TEST_F(Mam, HintsAndMessageTypes) {
  auto frank = login("frank", "hints");
  auto grace = login("grace", "hints");
  grace->send("<presence/>");
  sync(*grace);
  long before = query(*grace, {}, "<max>0</max>").count();
  frank->send("<message type='chat' to='grace@localhost'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>");
  frank->send("<message type='chat' to='grace@localhost'><body>fleeting</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>");
  frank->send("<message type='headline' to='grace@localhost'><body>news</body></message>");
  frank->send("<message type='chat' to='grace@localhost'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  frank->send("<message type='chat' to='grace@localhost'><body>normal</body></message>");
  sync(*frank);
  for (int i = 0; i < 5; ++i) {
    auto m = grace->receive_named("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(stanza_ids(*m).empty(), body(*m) != "normal") << body(*m);
  }
  ASSERT_TRUE(wait_for_count(*grace, before + 1));
  EXPECT_EQ(query(*grace, {}, "<max>1</max><before/>").bodies(), std::vector<std::string>{"normal"});
}

// The 'roster' policy consults the roster module's table at run time: contacts on the roster
// are archived, strangers are not.
TEST(MamRoster, RosterPolicyArchivesOnlyContacts) {
  TestServerOptions options;
  options.modules = {"message", "mam", "roster", "disco", "ping"};
  TestServer server(options);
  for (const char* user : {"alice", "bob", "mallory"}) server.add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
  auto alice = server.login("alice", "alice-secret", "desk");
  alice->send("<presence/>");
  alice->send("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>");
  alice->send("<iq type='set' id='p1'><prefs xmlns='urn:xmpp:mam:2' default='roster'/></iq>");
  sync(*alice);
  auto bob = server.login("bob", "bob-secret", "desk");
  auto mallory = server.login("mallory", "mallory-secret", "desk");
  bob->send("<message type='chat' to='alice@localhost'><body>from a contact</body></message>");
  auto m1 = alice->receive_named("message");
  ASSERT_TRUE(m1);
  EXPECT_EQ(stanza_ids(*m1).size(), 1u);
  mallory->send("<message type='chat' to='alice@localhost'><body>from a stranger</body></message>");
  auto m2 = alice->receive_named("message");
  ASSERT_TRUE(m2);
  EXPECT_TRUE(stanza_ids(*m2).empty());
  alice->send("<message type='chat' to='mallory@localhost'><body>to a stranger</body></message>");
  alice->send("<message type='chat' to='bob@localhost'><body>to a contact</body></message>");
  sync(*alice);
  ASSERT_TRUE(wait_for_count(*alice, 2));
  EXPECT_EQ(query(*alice, {}).bodies(), (std::vector<std::string>{"from a contact", "to a contact"}));
}

// A long flush interval: what is queued when the server stops is written on the way out.
TEST(MamShutdown, QueuedMessagesAreWrittenWhenTheServerStops) {
  TestServerOptions options;
  options.modules = {"message", "mam", "disco", "ping"};
  options.extra_config = "[host.mam]\nflush_interval_ms = 60000\n";
  RestartableServer server(options);
  server.add_user("alice@localhost", "alice-secret");
  server.add_user("bob@localhost", "bob-secret");
  {
    auto alice = server.login("alice", "alice-secret", "desk");
    auto bob = server.login("bob", "bob-secret", "phone");
    bob->send("<presence/>");
    sync(*bob);
    send_many(*alice, "bob@localhost", 20, "s");
    sync(*alice);
    // Not queried here: a query flushes first (read your own writes). With a one-minute
    // interval and fewer rows than a batch, only the flush at shutdown can write them.
  }
  EXPECT_EQ(server.restart(), 0);
  auto bob = server.login("bob", "bob-secret", "phone");
  auto a = query(*bob, {});
  EXPECT_EQ(a.count(), 20);
  ASSERT_EQ(a.results.size(), 20u);
  EXPECT_EQ(a.bodies().front(), "s0000");
  EXPECT_EQ(a.bodies().back(), "s0019");
  auto alice = server.login("alice", "alice-secret", "desk");
  EXPECT_EQ(query(*alice, {}, "<max>0</max>").count(), 20);
}

// Retention: with archive_expiry = 3s and a purge every second, old messages go, new stay.
TEST(MamRetention, ExpiredMessagesArePurged) {
  TestServerOptions options;
  options.modules = {"message", "mam", "disco", "ping"};
  options.extra_config = "[host.mam]\narchive_expiry = \"3s\"\npurge_interval = \"1s\"\n";
  TestServer server(options);
  server.add_user("alice@localhost", "alice-secret");
  server.add_user("bob@localhost", "bob-secret");
  auto alice = server.login("alice", "alice-secret", "desk");
  auto bob = server.login("bob", "bob-secret", "phone");
  bob->send("<presence/>");
  sync(*bob);
  alice->send("<message type='chat' to='bob@localhost'><body>old</body></message>");
  ASSERT_TRUE(wait_for_count(*bob, 1));
  std::this_thread::sleep_for(4s);
  alice->send("<message type='chat' to='bob@localhost'><body>new</body></message>");
  // Within a purge interval or two the old one is gone; the new one is well inside 3 s.
  auto until = std::chrono::steady_clock::now() + 2500ms;
  std::vector<std::string> bodies;
  while (std::chrono::steady_clock::now() < until) {
    bodies = query(*bob, {}).bodies();
    if (bodies == std::vector<std::string>{"new"}) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(bodies, std::vector<std::string>{"new"});
  EXPECT_EQ(query(*alice, {}).bodies(), std::vector<std::string>{"new"}) << "the sender's archive too";
  EXPECT_NE(server.process().stderr_text().find("mam: purged"), std::string::npos);
}

}  // namespace
}  // namespace parley::test
