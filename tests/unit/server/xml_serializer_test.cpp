#include "server/xml/serializer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "server/xml/stream_parser.hpp"

namespace parley::server::xml {
namespace {

const std::string kClient(kClientNs);

TEST(XmlSerializer, EscapesEverySpecialCharacterInText) {
  Element body("body", kClient);
  body.add_text("a&b<c>d\"e'f\tg\nh\ri");
  EXPECT_EQ(serialize(body, kClient), "<body>a&amp;b&lt;c&gt;d\"e'f\tg\nh&#13;i</body>");
}

TEST(XmlSerializer, EscapesEverySpecialCharacterInAttributes) {
  Element message("message", kClient);
  message.set_attr("id", "a&b<c>d\"e'f\tg\nh\ri");
  EXPECT_EQ(serialize(message, kClient),
            "<message id='a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;i'/>");
}

TEST(XmlSerializer, DropsCharactersXmlCannotCarry) {
  Element body("body", kClient);
  body.add_text(std::string("a\x01" "b\0c\x1f" "d\x7f", 8));
  body.set_attr("x", std::string("1\x02" "2", 3));
  EXPECT_EQ(serialize(body, kClient), "<body x='12'>abcd\x7f</body>");
}

TEST(XmlSerializer, DeclaresNamespacesOnlyWhereTheyChange) {
  Element iq("iq", kClient);
  iq.set_attr("type", "result");
  Element& query = iq.add_child("query", "jabber:iq:roster");
  query.add_child("item", "jabber:iq:roster").add_child("group", "jabber:iq:roster").add_text("Friends");
  iq.add_child("unqualified", "");

  EXPECT_EQ(serialize(iq, kClient),
            "<iq type='result'><query xmlns='jabber:iq:roster'><item><group>Friends</group></item></query>"
            "<unqualified xmlns=''/></iq>");
  // Outside a stream (or into a jabber:server stream) the top element declares its namespace.
  EXPECT_EQ(serialize(Element("message", kClient)), "<message xmlns='jabber:client'/>");
  EXPECT_EQ(serialize(Element("message", kClient), kServerNs), "<message xmlns='jabber:client'/>");
  std::string out = "<x/>";
  serialize_to(out, Element("presence", kClient), kClient);
  EXPECT_EQ(out, "<x/><presence/>");
}

TEST(XmlSerializer, WritesXmlLangAndPrefixesOtherQualifiedAttributes) {
  Element message("message", kClient);
  message.set_attr("lang", std::string(kXmlNs), "de");
  message.set_attr("a", "urn:one", "1");
  message.set_attr("b", "urn:two", "2");
  message.set_attr("c", "urn:one", "3");
  message.add_child("child", kClient).set_attr("d", "urn:two", "4");
  EXPECT_EQ(serialize(message, kClient),
            "<message xml:lang='de' xmlns:ns1='urn:one' ns1:a='1' xmlns:ns2='urn:two' ns2:b='2' ns1:c='3'>"
            "<child xmlns:ns1='urn:two' ns1:d='4'/></message>");
}

TEST(XmlSerializer, UsesTheStreamPrefixForStreamElements) {
  Element features("features", std::string(kStreamNs));
  features.add_child("starttls", "urn:ietf:params:xml:ns:xmpp-tls").add_child("required", "urn:ietf:params:xml:ns:xmpp-tls");
  features.add_child("ver", "urn:xmpp:features:rosterver");
  EXPECT_EQ(serialize(features, kClient),
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
            "<ver xmlns='urn:xmpp:features:rosterver'/></stream:features>");
  EXPECT_EQ(serialize(Element("features", std::string(kStreamNs))),
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>");
}

TEST(XmlSerializer, StreamHeaderFooterAndError) {
  EXPECT_EQ(stream_header(StreamHeader{}),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  StreamHeader header;
  header.from = "example.org";
  header.to = "juliet@example.org";
  header.id = "a'b";
  header.lang = "en";
  header.content_ns = kServerNs;
  header.extra_ns = {{"db", "jabber:server:dialback"}};
  EXPECT_EQ(stream_header(header),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
            "from='example.org' to='juliet@example.org' id='a&apos;b' xml:lang='en' version='1.0'>");
  EXPECT_EQ(stream_footer(), "</stream:stream>");
  EXPECT_EQ(stream_error("not-well-formed"),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
  EXPECT_EQ(stream_error("policy-violation", "stanza too large & <ugly>"),
            "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>stanza too large &amp; &lt;ugly&gt;</text>"
            "</stream:error>");
}

// What the serializer writes, the parser reads back as the same tree.
class Collect : public StreamParser::Handler {
 public:
  void on_stream_open(const StreamHeader& h) override { header = h; }
  void on_stanza(Element&& e) override { stanzas.push_back(std::move(e)); }
  void on_stream_close() override {}
  void on_error(StreamError e) override { error = e.condition; }
  StreamHeader header;
  std::vector<Element> stanzas;
  std::string error;
};

TEST(XmlSerializer, ParserReadsBackWhatItWrites) {
  Element message("message", kClient);
  message.set_attr("id", " \t\n\r&<>\"' ");
  message.set_attr("lang", std::string(kXmlNs), "fr");
  message.set_attr("q", "urn:x", "v");
  message.add_child("body", kClient).add_text("line1\r\nline2\rline3 & <b> \"q\" 'a' é 🎉");
  message.add_child("x", "").add_child("y", "urn:y").add_child("z", "");
  message.add_child("error", std::string(kStreamNs));

  StreamHeader header;
  header.to = "example.org";
  header.id = "x&y";
  header.lang = "en";
  header.version = "1.0";
  header.content_ns = kClient;
  Collect collect;
  StreamParser parser(collect, kClient);
  EXPECT_TRUE(parser.feed(stream_header(header) + serialize(message, kClient) + stream_footer()));
  EXPECT_EQ(collect.error, "");
  EXPECT_EQ(collect.header, header);
  ASSERT_EQ(collect.stanzas.size(), 1u);
  EXPECT_EQ(collect.stanzas[0], message);
}

}  // namespace
}  // namespace parley::server::xml
