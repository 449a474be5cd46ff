// XEP-0198 stream management over real TLS against `parley serve`, as transcripts: acks
// both ways, resumption after a cut link (nothing lost, nothing twice: not in the archive,
// not in carbons, not in offline storage), <failed/> after the resumption window with the
// messages in offline storage, resumption refused to another account, and durability of what
// the server acknowledged across kill -9 and SIGTERM (docs/security.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <functional>
#include <set>
#include <thread>

#include "tests/support/restartable_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kSm = "urn:xmpp:sm:3";
const char* kCarbons = "urn:xmpp:carbons:2";
const char* kMam = "urn:xmpp:mam:2";
const char* kForward = "urn:xmpp:forward:0";

// Pings the server and returns what arrived before the answer (messages and SM elements).
std::vector<Element> sync(XmppClient& c) {
  static int n = 0;
  std::string id = "sync-" + std::to_string(++n);
  c.send("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::vector<Element> out;
  for (;;) {
    auto e = c.receive(10s);
    if (!e) {
      ADD_FAILURE() << "no answer to the ping";
      return out;
    }
    if (e->name() == "iq" && e->attr("id") == id) return out;
    out.push_back(std::move(*e));
  }
}

std::vector<std::string> bodies(const std::vector<Element>& elements) {
  std::vector<std::string> out;
  for (const auto& e : elements) {
    if (e.name() == "message" && !body(e).empty()) out.push_back(body(e));
  }
  return out;
}

// Enables stream management with resumption; returns the <enabled/> element.
std::optional<Element> enable(XmppClient& c) {
  c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  return c.receive_named("enabled", 10s);
}

// The <a/> answering the <r/> just sent; its h, or -1.
long long request_ack(XmppClient& c) {
  c.send("<r xmlns='urn:xmpp:sm:3'/>");
  for (;;) {
    auto e = c.receive(15s);
    if (!e) return -1;
    if (e->name() == "a" && e->ns() == kSm) return std::stoll(std::string(e->attr("h").value_or("-1")));
  }
}

class StreamManagement : public ::testing::Test {
 protected:
  void start(std::string extra = {}) {
    TestServerOptions options;
    options.modules = {"message", "presence", "roster", "offline", "carbons", "mam", "disco", "ping",
                       "stream_management"};
    options.extra_config = "[host.mam]\nmax_page = 1000\n" + extra;
    server_ = std::make_unique<RestartableServer>(options);
    for (const char* user : {"alice", "bob"}) server_->add_user(std::string(user) + "@localhost", std::string(user) + "-secret");
  }
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& resource) {
    return server_->login(user, user + "-secret", resource);
  }
  // A new connection of `user`, authenticated and with its stream restarted, not bound: ready
  // for <resume/>. The features are checked to offer <sm/>.
  std::unique_ptr<XmppClient> authenticated(const std::string& user) {
    auto c = std::make_unique<XmppClient>(server_->client());
    c->connect_tls();
    EXPECT_EQ(c->authenticate("SCRAM-SHA-256", user, user + "-secret"), "");
    auto features = c->restart_stream();
    EXPECT_TRUE(features && features->find_child("sm", kSm) != nullptr) << "no <sm/> after authentication";
    return c;
  }
  // The bodies in `user`'s archive, oldest first.
  std::vector<std::string> archive(XmppClient& c) {
    c.send("<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2' queryid='q1'/></iq>");
    std::vector<std::string> out;
    for (;;) {
      auto e = c.receive(15s);
      if (!e) {
        ADD_FAILURE() << "no end of the archive query";
        return out;
      }
      if (e->name() == "iq" && e->attr("id") == "q1") return out;
      auto* result = e->name() == "message" ? e->find_child("result", kMam) : nullptr;
      auto* fwd = result ? result->find_child("forwarded", kForward) : nullptr;
      auto* inner = fwd ? fwd->find_child("message", "jabber:client") : nullptr;
      if (inner) out.push_back(body(*inner));
    }
  }
  // Waits until the server's log shows `text` (`times` times): a happening, not a duration
  // under test.
  bool log_shows(const std::string& text, int times = 1) {
    for (int i = 0; i < 300; ++i) {
      const std::string& log = server_->log();
      int n = 0;
      for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
      if (n >= times) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  std::unique_ptr<RestartableServer> server_;
};

TEST_F(StreamManagement, OfferedAfterAuthenticationAndEnabledWithAnUnguessableId) {
  start();
  auto bob = authenticated("bob");
  // XEP-0198 §3: enabling before binding is refused.
  bob->send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  auto early = bob->receive(10s);
  ASSERT_TRUE(early);
  EXPECT_EQ(early->name(), "failed");
  ASSERT_FALSE(bob->bind("phone").empty());
  auto enabled = enable(*bob);
  ASSERT_TRUE(enabled);
  EXPECT_EQ(enabled->attr("resume"), "true");
  EXPECT_EQ(enabled->attr("max"), "300");  // resume_timeout's default, like Prosody's
  std::string id(enabled->attr("id").value_or(""));
  EXPECT_GE(id.size(), 24u) << "18 random bytes, base64";
  // Twice is an error.
  bob->send("<enable xmlns='urn:xmpp:sm:3'/>");
  auto again = bob->receive(10s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->name(), "failed");
  EXPECT_NE(again->find_child("unexpected-request", "urn:ietf:params:xml:ns:xmpp-stanzas"), nullptr);
  // Another session gets another id.
  auto other = login("bob", "desk");
  auto enabled2 = enable(*other);
  ASSERT_TRUE(enabled2);
  EXPECT_NE(enabled2->attr("id").value_or(""), id);
}

TEST_F(StreamManagement, AcknowledgementsCountStanzasBothWays) {
  start();
  auto alice = login("alice", "desk");
  ASSERT_TRUE(enable(*alice));
  auto bob = login("bob", "phone");
  ASSERT_TRUE(enable(*bob));
  sync(*bob);  // a ping: one stanza from bob, one (the result) to him
  // The server asks for an acknowledgement after what it sent; bob gives it.
  auto r = bob->receive_named("r", 10s);
  ASSERT_TRUE(r) << "the server asks for an acknowledgement";
  EXPECT_EQ(r->ns(), kSm);
  bob->send("<a xmlns='urn:xmpp:sm:3' h='1'/>");
  EXPECT_EQ(request_ack(*bob), 1) << "the server handled bob's ping";

  // Alice sends three stanzas; her <r/> is answered with h=3.
  alice->send("<message to='bob@localhost/phone' type='chat' id='m1'><body>one</body></message>");
  alice->send("<message to='bob@localhost/phone' type='chat' id='m2'><body>two</body></message>");
  alice->send("<presence/>");
  EXPECT_EQ(request_ack(*alice), 3);

  // Bob receives the messages; after the first one the server asks again.
  auto m1 = bob->receive_named("message", 10s);
  ASSERT_TRUE(m1);
  EXPECT_EQ(body(*m1), "one");
  auto again = bob->receive(10s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->name(), "r");
  auto m2 = bob->receive_named("message", 10s);
  ASSERT_TRUE(m2);
  EXPECT_EQ(body(*m2), "two");
  bob->send("<a xmlns='urn:xmpp:sm:3' h='3'/>");
  // More than was sent is a stream error (XEP-0198 §4).
  bob->send("<a xmlns='urn:xmpp:sm:3' h='99'/>");
  EXPECT_TRUE(bob->wait_closed(10s));
  EXPECT_EQ(bob->stream_error(), "undefined-condition");
}

// The replies the connection makes itself (RFC 6121's old <session/> iq, jid-malformed for
// an address that cannot be prepared) are stanzas sent like any other: acknowledging them is
// not "more than was sent".
TEST_F(StreamManagement, RepliesOfTheConnectionItselfAreCounted) {
  start();
  auto bob = login("bob", "phone");
  ASSERT_TRUE(enable(*bob));
  bob->send("<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
  auto result = bob->receive_named("iq", 10s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->attr("id"), "sess");
  EXPECT_EQ(result->attr("type"), "result");
  bob->send("<message to='a@b@c' type='chat' id='bad'><body>x</body></message>");
  auto error = bob->receive_named("message", 10s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->attr("id"), "bad");
  EXPECT_EQ(error_condition(*error), "jid-malformed");
  // Bob acknowledges both; the stream goes on.
  bob->send("<a xmlns='urn:xmpp:sm:3' h='2'/>");
  sync(*bob);
  EXPECT_EQ(bob->stream_error(), "");
  EXPECT_EQ(request_ack(*bob), 3) << "the session iq, the bad message and the ping";
  bob->send("<a xmlns='urn:xmpp:sm:3' h='3'/>");
  sync(*bob);
  EXPECT_EQ(bob->stream_error(), "");
}

TEST_F(StreamManagement, ResumeAfterACutLinkResendsWhatWasNotAcknowledgedOnlyOnce) {
  start();
  auto desk = login("bob", "desk");
  desk->send("<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
  desk->send("<presence/>");
  sync(*desk);
  auto phone = login("bob", "phone");
  auto enabled = enable(*phone);
  ASSERT_TRUE(enabled);
  std::string previd(enabled->attr("id").value_or(""));
  phone->send("<presence/>");
  auto alice = login("alice", "desk");
  ASSERT_TRUE(enable(*alice));

  alice->send("<message to='bob@localhost/phone' type='chat' id='m0'><body>m0</body></message>");
  auto m0 = phone->receive_named("message", 10s);
  ASSERT_TRUE(m0);
  // The phone's link drops before it acknowledges anything.
  phone.reset();
  ASSERT_TRUE(log_shows("session detached for resumption"));
  alice->send("<message to='bob@localhost/phone' type='chat' id='m1'><body>m1</body></message>");
  alice->send("<message to='bob@localhost/phone' type='chat' id='m2'><body>m2</body></message>");
  EXPECT_EQ(request_ack(*alice), 3) << "delivered to the hibernating session: acknowledged";

  // The phone comes back. It acknowledges nothing (h=0): everything the server sent it since
  // enabling comes again.
  auto back = authenticated("bob");
  back->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>");
  auto resumed = back->receive(10s);
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->name(), "resumed") << "got <" << resumed->name() << "/>";
  EXPECT_EQ(resumed->attr("previd"), previd);
  EXPECT_EQ(resumed->attr("h"), "1") << "the server handled the phone's presence";
  // What it had not acknowledged comes again, in order, each once.
  auto got = bodies(sync(*back));
  std::vector<std::string> messages;
  for (auto& b : got) messages.push_back(b);
  EXPECT_EQ(messages, (std::vector<std::string>{"m0", "m1", "m2"}));
  // The session is the same: alice's next message arrives on the resumed stream.
  alice->send("<message to='bob@localhost/phone' type='chat' id='m3'><body>m3</body></message>");
  auto m3 = back->receive_named("message", 10s);
  ASSERT_TRUE(m3);
  EXPECT_EQ(body(*m3), "m3");

  // The desk got one carbon of each, none again on resumption.
  auto carbons = sync(*desk);
  std::multiset<std::string> copies;
  for (const auto& e : carbons) {
    auto* received = e.name() == "message" ? e.find_child("received", kCarbons) : nullptr;
    auto* fwd = received ? received->find_child("forwarded", kForward) : nullptr;
    auto* inner = fwd ? fwd->find_child("message", "jabber:client") : nullptr;
    if (inner) copies.insert(body(*inner));
  }
  EXPECT_EQ(copies, (std::multiset<std::string>{"m0", "m1", "m2", "m3"}));
  // The archive has each message once; offline storage has none of them.
  EXPECT_EQ(archive(*desk), (std::vector<std::string>{"m0", "m1", "m2", "m3"}));
  auto laptop = login("bob", "laptop");
  laptop->send("<presence/>");
  EXPECT_TRUE(bodies(sync(*laptop)).empty()) << "nothing went to offline storage";
  EXPECT_EQ(server_->log().find("went to offline storage"), std::string::npos);
}

TEST_F(StreamManagement, AfterTheWindowResumeFailsWithHAndMessagesWaitOffline) {
  start("[host.stream_management]\nresume_timeout = 3\n");
  auto phone = login("bob", "phone");
  auto enabled = enable(*phone);
  ASSERT_TRUE(enabled);
  EXPECT_EQ(enabled->attr("max"), "3");
  std::string previd(enabled->attr("id").value_or(""));
  phone->send("<presence/>");
  sync(*phone);
  auto alice = login("alice", "desk");
  ASSERT_TRUE(enable(*alice));
  phone.reset();
  ASSERT_TRUE(log_shows("session detached for resumption"));
  alice->send("<message to='bob@localhost' type='chat' id='late'><body>while you were away</body></message>");
  alice->send("<message to='bob@localhost' type='headline' id='news'><body>headline</body></message>");
  EXPECT_EQ(request_ack(*alice), 2);
  ASSERT_TRUE(log_shows("was not resumed in time"));
  ASSERT_TRUE(log_shows("went to offline storage"));

  auto back = authenticated("bob");
  back->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>");
  auto failed = back->receive(10s);
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->name(), "failed");
  EXPECT_NE(failed->find_child("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"), nullptr);
  EXPECT_EQ(failed->attr("h"), "2") << "the server's count for the ended session (presence and ping)";
  // The client binds a new session; the chat message waits in offline storage, the headline
  // does not (XEP-0160 §3), and it is archived only once.
  ASSERT_FALSE(back->bind("phone").empty());
  back->send("<presence/>");
  auto got = back->receive_named("message", 10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(body(*got), "while you were away");
  EXPECT_NE(got->find_child("delay", "urn:xmpp:delay"), nullptr);
  EXPECT_TRUE(bodies(sync(*back)).empty());
  EXPECT_EQ(archive(*back), (std::vector<std::string>{"while you were away"}));  // headlines are not archived
}

TEST_F(StreamManagement, AnotherAccountCannotResumeASession) {
  start();
  auto alice = login("alice", "desk");
  auto enabled = enable(*alice);
  ASSERT_TRUE(enabled);
  std::string previd(enabled->attr("id").value_or(""));
  alice.reset();
  ASSERT_TRUE(log_shows("session detached for resumption"));

  auto mallory = authenticated("bob");
  mallory->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>");
  auto failed = mallory->receive(10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->name(), "failed");
  EXPECT_NE(failed->find_child("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"), nullptr);
  EXPECT_FALSE(failed->attr("h").has_value()) << "nothing about another account's session";
  // An id never issued: the same answer.
  mallory->send("<resume xmlns='urn:xmpp:sm:3' previd='guessed' h='0'/>");
  auto guessed = mallory->receive(10s);
  ASSERT_TRUE(guessed);
  EXPECT_EQ(guessed->name(), "failed");

  // Alice herself still can.
  auto back = authenticated("alice");
  back->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>");
  auto resumed = back->receive(10s);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->name(), "resumed");
  EXPECT_EQ(back->stream_error(), "");
}

// A session closed on purpose ends even when its link drops at the same moment: it does not
// hibernate. Bob's phone sends faster than [limits] allow, so its reader pauses; meanwhile
// its link resets, writing a message to it fails, and a new login with the same resource
// replaces it (RFC 6120 §7.7.2.2, a close with <conflict/>). The old session ends at once and
// the message it could not deliver goes to offline storage for the new one.
TEST_F(StreamManagement, ASessionClosedOnPurposeWhileItsLinkDropsEndsAndDoesNotHibernate) {
  start("[limits]\nread_bytes_per_second = 2048\nread_burst_bytes = 16384\n");
  auto phone = login("bob", "phone");
  ASSERT_TRUE(enable(*phone));
  phone->send("<presence/>");
  sync(*phone);
  auto alice = login("alice", "desk");
  ASSERT_TRUE(enable(*alice));
  // 24 KiB in one ping: the server reads it and then pauses reading for seconds.
  phone->send("<iq type='get' id='big' to='localhost'><ping xmlns='urn:xmpp:ping'/>" + std::string(24 * 1024, ' ') +
              "</iq>");
  auto pong = phone->receive_named("iq", 15s);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->attr("id"), "big");
  // The phone's link resets (RST).
  linger reset{1, 0};
  ASSERT_EQ(setsockopt(SSL_get_fd(phone->ssl()), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
  phone.reset();
  alice->send("<message to='bob@localhost/phone' type='chat' id='m1'><body>m1</body></message>");
  EXPECT_EQ(request_ack(*alice), 1) << "delivered to the phone's session";
  auto again = login("bob", "phone");
  ASSERT_TRUE(log_shows("went to offline storage")) << "the replaced session ended";
  again->send("<presence/>");
  auto m1 = again->receive_named("message", 10s);
  ASSERT_TRUE(m1);
  EXPECT_EQ(body(*m1), "m1");
  EXPECT_NE(m1->find_child("delay", "urn:xmpp:delay"), nullptr);
}

// A sender that keeps what the server has not acknowledged, as a XEP-0198 client does.
class Sender {
 public:
  Sender(std::function<std::unique_ptr<XmppClient>()> login,
                  std::function<std::unique_ptr<XmppClient>()> authenticated)
      : login_(std::move(login)), authenticated_(std::move(authenticated)) {}

  void connect() {
    if (!previd_.empty()) {
      auto c = authenticated_();
      c->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd_ + "' h='0'/>");
      auto answer = c->receive(15s);
      if (answer && answer->name() == "resumed") {
        client_ = std::move(c);
        acked(std::stoul(std::string(answer->attr("h").value_or("0"))));
        ++resumed_;
        for (int i : unacked()) client_->send(message(i));
        return;
      }
    }
    // A new session: what was not acknowledged is sent again (at least once).
    auto pending = unacked();
    client_ = login_();
    auto enabled = enable(*client_);
    ASSERT_TRUE(enabled);
    previd_ = std::string(enabled->attr("id").value_or(""));
    session_.clear();
    base_ = 0;
    for (int i : pending) send(i);
  }
  void send(int i) {
    session_.push_back(i);
    client_->send(message(i));
  }
  // Asks for an acknowledgement; records it. False if the link is gone.
  bool request() {
    long long h = request_ack(*client_);
    if (h < 0) return false;
    acked(static_cast<std::uint32_t>(h));
    return true;
  }
  // Asks for an acknowledgement without waiting for it (see drain()).
  void request_later() { client_->send("<r xmlns='urn:xmpp:sm:3'/>"); }
  // Reads what the server sent before its end (it stays readable after the server died).
  void drain() {
    while (auto e = client_->receive(3s)) {
      if (e->name() == "a" && e->ns() == kSm) acked(static_cast<std::uint32_t>(std::stoul(std::string(e->attr("h").value_or("0")))));
    }
  }
  void cut() { client_.reset(); }
  const std::set<int>& acknowledged() const { return acknowledged_; }
  int resumed() const { return resumed_; }

 private:
  static std::string message(int i) {
    return "<message to='bob@localhost' type='chat' id='n" + std::to_string(i) + "'><body>n" + std::to_string(i) +
           "</body></message>";
  }
  void acked(std::uint32_t h) {
    for (std::size_t k = base_; k < h && k < session_.size(); ++k) acknowledged_.insert(session_[k]);
    base_ = std::max<std::size_t>(base_, h);
  }
  std::vector<int> unacked() const {
    std::vector<int> out;
    for (std::size_t k = base_; k < session_.size(); ++k) out.push_back(session_[k]);
    return out;
  }

  std::function<std::unique_ptr<XmppClient>()> login_, authenticated_;
  std::unique_ptr<XmppClient> client_;
  std::string previd_;
  std::vector<int> session_;  // what this SM session sent, in order (h counts them)
  std::size_t base_ = 0;      // how many of them the server acknowledged
  std::set<int> acknowledged_;
  int resumed_ = 0;
};

// The bodies of the next messages until `n` have come (or none comes for a while).
std::vector<std::string> receive_bodies(XmppClient& c, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    auto m = c.receive_named("message", 10s);
    if (!m) break;
    if (!body(*m).empty()) out.push_back(body(*m));
  }
  return out;
}

// Until the crash bob's phone hibernates (XEP-0198, its link dropped): messages are
// delivered into its queue, which only memory holds, and archived write-behind; so an
// acknowledgement must wait for the archive's commit, or the kill loses a message the server
// acknowledged.
TEST_F(StreamManagement, NoAcknowledgedMessageIsLostAcrossCutLinksAndKill9) {
  start();
  auto bob_phone = login("bob", "phone");
  ASSERT_TRUE(enable(*bob_phone));
  bob_phone->send("<presence/>");
  sync(*bob_phone);
  bob_phone.reset();
  ASSERT_TRUE(log_shows("session detached for resumption"));
  Sender alice([this] { return login("alice", "desk"); }, [this] { return authenticated("alice"); });
  alice.connect();
  constexpr int kN = 200;
  std::set<std::string> found;
  for (int i = 1; i <= kN; ++i) {
    alice.send(i);
    if (i % 20 == 0) {
      ASSERT_TRUE(alice.request());
    }
    if (i == 70) {
      // The client's link drops mid-burst; it resumes the hibernating session and sends
      // again what was not acknowledged.
      alice.cut();
      ASSERT_TRUE(log_shows("session detached for resumption", 2));
      alice.connect();
    }
    if (i == 125) {
      // The same, resuming before the server noticed: the old connection is closed.
      alice.cut();
      alice.connect();
    }
    if (i == 150) {
      // The server crashes with messages in flight and an acknowledgement requested, and
      // comes back. Whatever it acknowledged before dying counts.
      alice.request_later();
      server_->restart(SIGKILL);
      alice.drain();
      alice.cut();
      alice.connect();
    }
  }
  ASSERT_TRUE(alice.request());
  EXPECT_GE(alice.resumed(), 1);
  EXPECT_EQ(alice.acknowledged().size(), static_cast<std::size_t>(kN)) << "everything is acknowledged in the end";

  // Bob's archive and his offline messages.
  auto bob = login("bob", "phone");
  auto archived = archive(*bob);
  found.insert(archived.begin(), archived.end());
  bob->send("<presence/>");
  auto offline = receive_bodies(*bob, kN - 150);
  found.insert(offline.begin(), offline.end());
  std::vector<int> missing;
  for (int i : alice.acknowledged()) {
    if (!found.count("n" + std::to_string(i))) missing.push_back(i);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " acknowledged message(s) missing, first n"
                               << (missing.empty() ? 0 : missing.front());
  EXPECT_GE(archived.size(), static_cast<std::size_t>(kN)) << "every message is archived";
}

TEST_F(StreamManagement, AcknowledgedAndHibernatingMessagesSurviveSigterm) {
  start();
  // Bob's phone enabled resumption and dropped: it hibernates when the server stops.
  auto phone = login("bob", "phone");
  ASSERT_TRUE(enable(*phone));
  phone->send("<presence/>");
  sync(*phone);
  phone.reset();
  ASSERT_TRUE(log_shows("session detached for resumption"));

  auto alice = login("alice", "desk");
  ASSERT_TRUE(enable(*alice));
  for (int i = 1; i <= 50; ++i) {
    alice->send("<message to='bob@localhost' type='chat' id='t" + std::to_string(i) + "'><body>t" + std::to_string(i) +
                "</body></message>");
  }
  ASSERT_EQ(request_ack(*alice), 50);
  EXPECT_EQ(server_->restart(SIGTERM), 0);
  alice.reset();

  auto bob = login("bob", "desk");
  bob->send("<presence/>");
  auto got = receive_bodies(*bob, 50);
  std::vector<std::string> expected;
  for (int i = 1; i <= 50; ++i) expected.push_back("t" + std::to_string(i));
  EXPECT_EQ(got, expected) << "the hibernating session's messages went to offline storage, in order";
  EXPECT_EQ(archive(*bob).size(), 50u);
}

}  // namespace
}  // namespace parley::test
