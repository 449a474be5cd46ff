// The carbons module's rules without a network: eligibility (XEP-0280 §6, §9, XEP-0334),
// the shape of a copy (§7, §8, XEP-0297), and whom RFC 6121 already delivers to.
#include "modules/carbons/carbons_rules.hpp"

#include <gtest/gtest.h>

#include "server/xml/serializer.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::modules::carbons {
namespace {

using server::Stanza;
using server::xml::Element;

Stanza parse(std::string_view xml, std::string_view stream_ns = "jabber:client") {
  struct One final : server::xml::StreamParser::Handler {
    std::optional<Element> got;
    void on_stream_open(const server::xml::StreamHeader&) override {}
    void on_stanza(Element&& e) override { got = std::move(e); }
    void on_stream_close() override {}
    void on_error(server::xml::StreamError) override {}
  } one;
  server::xml::StreamParser p(one, std::string(stream_ns));
  p.feed("<stream:stream xmlns='" + std::string(stream_ns) + "' xmlns:stream='http://etherx.jabber.org/streams'>");
  p.feed(xml);
  EXPECT_TRUE(one.got) << xml;
  auto st = server::make_stanza(std::move(*one.got));
  EXPECT_TRUE(st) << xml;
  return std::move(*st);
}

bool sent_ok(std::string_view xml) { return eligible(parse(xml)); }
bool received_ok(std::string_view xml) { return eligible_received(parse(xml)); }

TEST(CarbonsRules, ChatAndNormalWithBodyAreEligible) {
  EXPECT_TRUE(sent_ok("<message to='b@x' type='chat'><body>hi</body></message>"));
  EXPECT_TRUE(sent_ok("<message to='b@x' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"));
  EXPECT_TRUE(sent_ok("<message to='b@x' type='normal'><body>hi</body></message>"));
  EXPECT_TRUE(sent_ok("<message to='b@x'><body>hi</body></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x' type='normal'><subject>s</subject></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x'/>"));
}

TEST(CarbonsRules, OtherTypesAreNot) {
  EXPECT_FALSE(sent_ok("<message to='b@x' type='headline'><body>news</body></message>"));
  EXPECT_FALSE(sent_ok("<message to='r@muc.x' type='groupchat'><body>all</body></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x' type='error'><body>x</body><error type='cancel'/></message>"));
  EXPECT_FALSE(sent_ok("<presence/>"));
}

TEST(CarbonsRules, PrivateNoCopyAndCarbonsThemselvesAreNotCopied) {
  EXPECT_FALSE(sent_ok("<message to='b@x' type='chat'><body>s</body><private xmlns='urn:xmpp:carbons:2'/></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x' type='chat'><body>s</body><no-copy xmlns='urn:xmpp:hints'/></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x' type='chat'><received xmlns='urn:xmpp:carbons:2'/></message>"));
  EXPECT_FALSE(sent_ok("<message to='b@x' type='chat'><sent xmlns='urn:xmpp:carbons:2'/></message>"));
  // Only the carbons namespace counts: a XEP-0184 receipt is another <received/>.
  EXPECT_TRUE(sent_ok("<message to='b@x' type='chat'><received xmlns='urn:xmpp:receipts' id='1'/></message>"));
  EXPECT_TRUE(is_private(parse("<message><private xmlns='urn:xmpp:carbons:2'/></message>").element));
  EXPECT_FALSE(is_private(parse("<message><private xmlns='urn:example'/></message>").element));
}

TEST(CarbonsRules, MessagesFromAMucAreNotCopiedOnReceipt) {
  const char* pm = "<message from='room@muc.x/nick' to='a@x/desk' type='chat'><body>pm</body>"
                   "<x xmlns='http://jabber.org/protocol/muc#user'/></message>";
  EXPECT_FALSE(received_ok(pm));
  EXPECT_TRUE(sent_ok(pm));  // what the user sends to a participant is still copied
  EXPECT_TRUE(received_ok("<message from='b@x/pc' to='a@x/desk' type='chat'><body>hi</body></message>"));
}

TEST(CarbonsRules, ACopyWrapsTheOriginalInClientNamespace) {
  Stanza original = parse("<message from='b@remote.example/pc' to='a@x/desk' type='chat' id='m1'>"
                          "<body>hi</body></message>",
                          "jabber:server");
  auto account = *server::Jid::parse("a@x");
  auto target = *server::Jid::parse("a@x/phone");
  Stanza copy = wrap(Direction::received, original, account, target);
  EXPECT_EQ(copy.kind, server::StanzaKind::message);
  EXPECT_EQ(copy.type, "chat");
  EXPECT_EQ(copy.from, account);
  EXPECT_EQ(copy.to, target);
  EXPECT_EQ(server::xml::serialize(copy.element, "jabber:client"),
            "<message from='a@x' to='a@x/phone' type='chat'>"
            "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
            "<message xmlns='jabber:client' from='b@remote.example/pc' to='a@x/desk' type='chat' id='m1'>"
            "<body>hi</body></message></forwarded></received></message>");
}

TEST(CarbonsRules, ASentCopyCarriesTheAddressesTheRouterSet) {
  // A message without 'to' goes to the sender's own account (RFC 6120 §10.3); the router
  // sets the Stanza's addresses, the copy shows them.
  Stanza original = parse("<message><body>x</body></message>");
  original.from = server::Jid::parse("a@x/desk");
  original.to = server::Jid::parse("c@y");
  Stanza copy = wrap(Direction::sent, original, *server::Jid::parse("a@x"), *server::Jid::parse("a@x/phone"));
  EXPECT_FALSE(copy.element.attr("type"));
  auto* inner = copy.element.find_child("sent", kCarbonsNs)->find_child("forwarded", kForwardNs)
                    ->find_child("message", "jabber:client");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->attr("from"), "a@x/desk");
  EXPECT_EQ(inner->attr("to"), "c@y");
}

class FakeSession final : public server::ClientSession {
 public:
  FakeSession(const std::string& jid, bool available, int priority)
      : jid_(*server::Jid::parse(jid)), available_(available), priority_(priority) {}
  const server::Jid& jid() const override { return jid_; }
  void send(Stanza) override {}
  void close(std::string_view) override {}
  std::string_view remote_address() const override { return "test"; }
  bool available() const override { return available_; }
  int priority() const override { return priority_; }
  void set_presence(bool available, int priority) override {
    available_ = available;
    priority_ = priority;
  }

 private:
  server::Jid jid_;
  bool available_;
  int priority_;
};

std::vector<std::string> names(const std::vector<std::shared_ptr<server::ClientSession>>& sessions) {
  std::vector<std::string> out;
  for (const auto& s : sessions) out.emplace_back(s->jid().resource());
  return out;
}

TEST(CarbonsRules, BareRecipientsAreTheHighestNonNegativeAvailable) {
  auto s = [](const char* r, bool a, int p) {
    return std::make_shared<FakeSession>(std::string("a@x/") + r, a, p);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(bare_recipients({s("one", true, 1), s("five", true, 5), s("off", false, 9)})), V{"five"});
  EXPECT_EQ(names(bare_recipients({s("a", true, 2), s("b", true, 2), s("c", true, 0)})), (V{"a", "b"}));
  EXPECT_EQ(names(bare_recipients({s("neg", true, -1), s("zero", true, 0)})), V{"zero"});
  EXPECT_TRUE(bare_recipients({s("neg", true, -1), s("off", false, 0)}).empty());
  EXPECT_TRUE(bare_recipients({}).empty());
}

}  // namespace
}  // namespace parley::modules::carbons
