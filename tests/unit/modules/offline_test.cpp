// The offline module's rules without a database: which messages are stored (XEP-0160 §3,
// RFC 6121 §8.5.2.2, XEP-0334, XEP-0085), the stored form and the delay stamp (XEP-0203).
#include "modules/offline/offline_rules.hpp"

#include <gtest/gtest.h>

#include "server/xml/serializer.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::modules::offline {
namespace {

using server::Stanza;
using server::xml::Element;

// Parses one stanza in a jabber:client (or jabber:server) stream.
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

Disposition of(std::string_view xml) { return disposition(parse(xml)); }

TEST(OfflineRules, ChatNormalAndUntypedMessagesAreStored) {
  EXPECT_EQ(of("<message to='b@x' type='chat'><body>hi</body></message>"), Disposition::store);
  EXPECT_EQ(of("<message to='b@x' type='normal'><body>hi</body></message>"), Disposition::store);
  EXPECT_EQ(of("<message to='b@x'><body>hi</body></message>"), Disposition::store);
  // RFC 6121 §5.2.2: an unknown type is handled as normal.
  EXPECT_EQ(of("<message to='b@x' type='whatever'><body>hi</body></message>"), Disposition::store);
  // Content other than a body is kept too (e.g. a XEP-0249 invitation).
  EXPECT_EQ(of("<message to='b@x'><x xmlns='jabber:x:conference' jid='room@muc.x'/></message>"), Disposition::store);
}

TEST(OfflineRules, HeadlineErrorAndGroupchatAreNotStored) {
  EXPECT_EQ(of("<message to='b@x' type='headline'><body>news</body></message>"), Disposition::drop);
  EXPECT_EQ(of("<message to='b@x' type='error'><error type='cancel'/></message>"), Disposition::drop);
  EXPECT_EQ(of("<message to='b@x' type='groupchat'><body>room</body></message>"), Disposition::refuse);
}

TEST(OfflineRules, ChatStatesAloneAreDroppedUnlessHintedToStore) {
  EXPECT_EQ(of("<message to='b@x' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/>"
               "<thread>t1</thread></message>"),
            Disposition::drop);
  EXPECT_EQ(of("<message to='b@x' type='chat'><body>hi</body>"
               "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"),
            Disposition::store);
  EXPECT_EQ(of("<message to='b@x' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/>"
               "<store xmlns='urn:xmpp:hints'/></message>"),
            Disposition::store);
  // An empty message has no chat state either: kept, like ejabberd's default.
  EXPECT_EQ(of("<message to='b@x'/>"), Disposition::store);
}

TEST(OfflineRules, NoStoreIsRefusedNoPermanentStoreIsNot) {
  EXPECT_EQ(of("<message to='b@x' type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>"),
            Disposition::refuse);
  EXPECT_EQ(of("<message to='b@x' type='chat'><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>"),
            Disposition::store);
}

TEST(OfflineRules, StoredFormRoundTripsWithAddressesAndClientNamespace) {
  // A message that came over a server-to-server stream is stored in jabber:client.
  Stanza st = parse("<message from='a@remote.example/r' to='b@x' type='chat' id='i1'>"
                    "<body>1 &lt; 2 &amp; &apos;q&apos;</body><thread>t</thread></message>",
                    "jabber:server");
  std::string xml = to_storage(st);
  EXPECT_EQ(xml.rfind("<message xmlns='jabber:client'", 0), 0u) << xml;
  auto back = from_storage(xml);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->element.ns(), "jabber:client");
  EXPECT_EQ(back->kind, server::StanzaKind::message);
  EXPECT_EQ(back->type, "chat");
  EXPECT_EQ(back->from->str(), "a@remote.example/r");
  EXPECT_EQ(back->to->str(), "b@x");
  EXPECT_EQ(back->id(), "i1");
  auto* body = back->element.find_child("body", "jabber:client");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->text(), "1 < 2 & 'q'");
  EXPECT_NE(back->element.find_child("thread", "jabber:client"), nullptr);
}

TEST(OfflineRules, StoredFormCarriesAddressesTheElementLacks) {
  // The router sets 'to' for a message without one (RFC 6120 §10.3) on the Stanza only.
  Stanza st = parse("<message type='chat'><body>note to self</body></message>");
  st.from = server::Jid::parse("b@x/phone");
  st.to = server::Jid::parse("b@x");
  auto back = from_storage(to_storage(st));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->element.attr("from"), "b@x/phone");
  EXPECT_EQ(back->element.attr("to"), "b@x");
}

TEST(OfflineRules, DamagedRowsDoNotParse) {
  EXPECT_FALSE(from_storage("<message xmlns='jabber:client'><body>unterminated"));
  EXPECT_FALSE(from_storage("<presence xmlns='urn:example'/>"));
  EXPECT_FALSE(from_storage(""));
}

TEST(OfflineRules, DelayIsAddedWithDomainAndStamp) {
  Stanza st = parse("<message to='b@x' type='chat'><body>hi</body></message>");
  add_delay(st, "x", "2024-05-01T12:00:00.123Z");
  auto* delay = st.element.find_child("delay", kDelayNs);
  ASSERT_NE(delay, nullptr);
  EXPECT_EQ(delay->attr("from"), "x");
  EXPECT_EQ(delay->attr("stamp"), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(server::xml::serialize(st.element, "jabber:client"),
            "<message to='b@x' type='chat'><body>hi</body>"
            "<delay xmlns='urn:xmpp:delay' from='x' stamp='2024-05-01T12:00:00.123Z'/></message>");
}

}  // namespace
}  // namespace parley::modules::offline
