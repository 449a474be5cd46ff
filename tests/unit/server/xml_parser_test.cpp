#include "server/xml/stream_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/xml/serializer.hpp"

namespace parley::server::xml {
namespace {

const std::string kClient(kClientNs);
const std::string kHeader =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.org' version='1.0'>";

// Records every event as one line, stanzas serialized, so runs can be compared.
class Recorder : public StreamParser::Handler {
 public:
  void on_stream_open(const StreamHeader& h) override {
    std::string line = "open to=" + h.to + " from=" + h.from + " id=" + h.id + " version=" + h.version +
                       " lang=" + h.lang + " ns=" + h.content_ns;
    for (const auto& [prefix, uri] : h.extra_ns) line += " xmlns:" + prefix + "=" + uri;
    events.push_back(line);
    header = h;
  }
  void on_stanza(Element&& stanza) override {
    events.push_back("stanza " + serialize(stanza, kClient));
    stanzas.push_back(std::move(stanza));
    if (reset_on != nullptr && stanzas.back().name() == "starttls") reset_on->reset();
  }
  void on_stream_close() override { events.push_back("close"); }
  void on_error(StreamError error) override {
    events.push_back("error " + error.condition + " (" + error.text + ")");
    condition = error.condition;
    text = error.text;
  }

  std::vector<std::string> events;
  StreamHeader header;
  std::vector<Element> stanzas;
  std::string condition, text;
  StreamParser* reset_on = nullptr;
};

std::vector<std::string> feed_in_pieces(std::string_view input, std::size_t piece,
                                        StreamParser::Limits limits = {}) {
  Recorder recorder;
  StreamParser parser(recorder, kClient, limits);
  for (std::size_t at = 0; at < input.size(); at += piece) parser.feed(input.substr(at, piece));
  return recorder.events;
}

std::vector<std::string> feed_split_at(std::string_view input, std::size_t split) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  parser.feed(input.substr(0, split));
  parser.feed(input.substr(split));
  return recorder.events;
}

// The condition of the error `input` produces, the same whether fed at once or byte by byte.
std::string error_of(std::string_view input, StreamParser::Limits limits = {}) {
  Recorder at_once;
  StreamParser parser(at_once, kClient, limits);
  const bool ok = parser.feed(input);
  EXPECT_EQ(ok, at_once.condition.empty());
  EXPECT_EQ(feed_in_pieces(input, 1, limits), at_once.events) << "byte by byte differs";
  if (!at_once.condition.empty()) {
    EXPECT_EQ(at_once.events.back(), "error " + at_once.condition + " (" + at_once.text + ")")
        << "an error is the last event";
    EXPECT_FALSE(parser.feed("<presence/>"));
  }
  return at_once.condition;
}

const std::string kClientStream =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:x='urn:example:unused' to='example.org' version='1.0' xml:lang='en' id='c2s-1'>\n"
    "  <iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>\n\n"
    " \t \r\n"
    "<presence><show>away</show><status xml:lang='fr'>Absent &amp; occupé</status>"
    "<c xmlns=\"http://jabber.org/protocol/caps\" hash=\"sha-1\" node=\"https://a.example/#x\" "
    "ver=\"QgayPKawpkPSDYmwT/WM94uAlu0=\"/></presence>"
    "<message to='romeo@example.net' from='juliet@example.com/balcony' type='chat' id='m&apos;1' "
    "xml:lang='en' xmlns:html='http://jabber.org/protocol/xhtml-im'>"
    "<body>Wherefore art thou, Romeo? &lt;3 &gt; &quot;x&quot; &#x1F339; &#233; 🌹 a>b</body>"
    "<html:html><body xmlns='http://www.w3.org/1999/xhtml'><p style='font-weight:bold'>Hi<br/>there</p></body>"
    "</html:html><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/>"
    "<data xmlns='urn:example' attr='tab&#9;nl&#10;cr&#13;' plain='a\tb\nc'><![CDATA[<not a tag> & ]]]]><![CDATA[>]]></data>"
    "</message>"
    " "
    "<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster' ver=''/></iq>\n"
    "<r xmlns='urn:xmpp:sm:3'/>"
    "<stream:features/>"
    "</stream:stream>";

TEST(XmlStreamParser, ParsesARealisticClientStream) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  ASSERT_TRUE(parser.feed(kClientStream));
  EXPECT_EQ(recorder.condition, "");
  EXPECT_EQ(recorder.header.to, "example.org");
  EXPECT_EQ(recorder.header.version, "1.0");
  EXPECT_EQ(recorder.header.lang, "en");
  EXPECT_EQ(recorder.header.id, "c2s-1");
  EXPECT_EQ(recorder.header.content_ns, "jabber:client");
  EXPECT_EQ(recorder.header.extra_ns,
            (std::vector<std::pair<std::string, std::string>>{{"x", "urn:example:unused"}}));
  ASSERT_EQ(recorder.stanzas.size(), 6u);
  EXPECT_EQ(recorder.events.back(), "close");
  EXPECT_FALSE(parser.stream_open());

  const Element& message = recorder.stanzas[2];
  EXPECT_EQ(message.name(), "message");
  EXPECT_EQ(message.ns(), "jabber:client");
  EXPECT_EQ(message.attr("id"), "m'1");
  EXPECT_EQ(message.attr("lang", kXmlNs), "en");
  EXPECT_EQ(message.find_child("body", kClient)->text(),
            "Wherefore art thou, Romeo? <3 > \"x\" \U0001F339 \u00e9 \U0001F339 a>b");
  const Element* html = message.find_child("html", "http://jabber.org/protocol/xhtml-im");
  ASSERT_NE(html, nullptr);
  EXPECT_NE(html->find_child("body", "http://www.w3.org/1999/xhtml"), nullptr);
  const Element* data = message.find_child("data", "urn:example");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->attr("attr"), "tab\tnl\ncr\r");
  EXPECT_EQ(data->attr("plain"), "a b c");  // XML 1.0 §3.3.3 attribute-value normalisation
  EXPECT_EQ(data->text(), "<not a tag> & ]]>");
  EXPECT_EQ(recorder.stanzas[1].find_child("status", kClient)->attr("lang", kXmlNs), "fr");
  EXPECT_EQ(recorder.stanzas[5].ns(), kStreamNs);
  EXPECT_EQ(recorder.events[4],
            "stanza <iq type='get' id='roster_1'><query xmlns='jabber:iq:roster' ver=''/></iq>");
}

TEST(XmlStreamParser, EventsDoNotDependOnHowInputIsSplit) {
  const std::vector<std::string> at_once = feed_in_pieces(kClientStream, kClientStream.size());
  ASSERT_EQ(at_once.size(), 8u);
  EXPECT_EQ(feed_in_pieces(kClientStream, 1), at_once);
  EXPECT_EQ(feed_in_pieces(kClientStream, 7), at_once);
  for (std::size_t split = 0; split <= kClientStream.size(); ++split) {
    ASSERT_EQ(feed_split_at(kClientStream, split), at_once) << "split at " << split;
  }
}

TEST(XmlStreamParser, EveryStanzaIsDeliveredByTheFeedThatCompletesIt) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  std::size_t stanzas_seen = 0;
  for (std::size_t i = 0; i < kClientStream.size(); ++i) {
    parser.feed(kClientStream.substr(i, 1));
    if (recorder.stanzas.size() > stanzas_seen) {
      stanzas_seen = recorder.stanzas.size();
      EXPECT_EQ(kClientStream[i], '>') << "stanza delivered late, at byte " << i;
    }
  }
  // Feeding a stanza minus its last byte delivers nothing; the last byte delivers it.
  Recorder r2;
  StreamParser p2(r2, kClient);
  const std::string stanza = "<iq type='get' a='x>y' b=\"'>\"><q xmlns='urn:q'/><![CDATA[>]]></iq>";
  p2.feed(kHeader + stanza.substr(0, stanza.size() - 1));
  EXPECT_EQ(r2.stanzas.size(), 0u);
  p2.feed(">");
  EXPECT_EQ(r2.stanzas.size(), 1u);
}

std::vector<std::string> feed_randomly(std::string_view input, std::mt19937& random,
                                       StreamParser::Limits limits) {
  Recorder recorder;
  StreamParser parser(recorder, kClient, limits);
  std::uniform_int_distribution<std::size_t> length(0, 40);
  for (std::size_t at = 0; at < input.size();) {
    const std::size_t n = std::min(length(random), input.size() - at);
    parser.feed(input.substr(at, n));
    at += n;
  }
  return recorder.events;
}

// `split` saw the same events as `whole`, except that an error in bytes after the last tag
// end may not be reported yet (the parser waits for the next '>', see stream_parser.cpp).
::testing::AssertionResult same_events(const std::vector<std::string>& split,
                                       const std::vector<std::string>& whole) {
  if (split == whole) return ::testing::AssertionSuccess();
  if (split.size() + 1 == whole.size() && std::equal(split.begin(), split.end(), whole.begin()) &&
      whole.back().starts_with("error ")) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << ::testing::PrintToString(split) << "\n  vs\n" << ::testing::PrintToString(whole);
}

// A small differential fuzzer: damaged streams give the same events, errors included,
// however they are split.
TEST(XmlStreamParser, DamagedStreamsGiveTheSameEventsHoweverSplit) {
  std::mt19937 random(6120);
  const std::string noise = std::string("<>&'\"/!?-]x \0\xFF\xC3", 15);
  std::uniform_int_distribution<std::size_t> where(0, kClientStream.size() - 1), what(0, noise.size() - 1);
  StreamParser::Limits small;
  small.max_stanza_bytes = 400;
  small.max_header_bytes = 200;
  std::set<std::string> outcomes;
  for (int round = 0; round < 300; ++round) {
    std::string input = kClientStream;
    for (int damage = round % 3; damage >= 0; --damage) input[where(random)] = noise[what(random)];
    for (const StreamParser::Limits& limits : {StreamParser::Limits{}, small}) {
      const std::vector<std::string> at_once = feed_in_pieces(input, input.size(), limits);
      ASSERT_TRUE(same_events(feed_in_pieces(input, 1, limits), at_once)) << "round " << round;
      ASSERT_TRUE(same_events(feed_randomly(input, random, limits), at_once)) << "round " << round;
      outcomes.insert(at_once.empty() ? "nothing" : at_once.back());
    }
  }
  // The damage did produce a variety of outcomes, so the comparison meant something.
  EXPECT_GE(outcomes.size(), 4u);
}

TEST(XmlStreamParser, SerializedStanzasRoundTrip) {
  Recorder first;
  StreamParser parser(first, kClient);
  ASSERT_TRUE(parser.feed(kClientStream));
  std::string again = stream_header(first.header);
  for (const Element& stanza : first.stanzas) again += serialize(stanza, kClient);
  again += stream_footer();

  Recorder second;
  StreamParser reparser(second, kClient);
  ASSERT_TRUE(reparser.feed(again));
  EXPECT_EQ(second.header, first.header);
  EXPECT_EQ(second.stanzas, first.stanzas);

  // Text already in the serializer's canonical form comes back byte for byte.
  const std::string canonical =
      "<message to='a@b' xml:lang='en' x='&#9;&#10;&#13;&amp;&lt;&gt;&quot;&apos;'>"
      "<body>1 &amp; 2 &lt; 3 &gt; 0 &#13; \"'</body><x xmlns='urn:x'><y xmlns=''/></x></message>";
  Recorder third;
  StreamParser p3(third, kClient);
  ASSERT_TRUE(p3.feed(kHeader + canonical));
  ASSERT_EQ(third.stanzas.size(), 1u);
  EXPECT_EQ(serialize(third.stanzas[0], kClient), canonical);
}

TEST(XmlStreamParser, RefusesRestrictedXml) {  // RFC 6120 §11.1
  EXPECT_EQ(error_of("<?xml version='1.0'?><!DOCTYPE stream:stream>" + kHeader), "restricted-xml");
  EXPECT_EQ(error_of("<!DOCTYPE s [<!ENTITY x 'y'>]>" + kHeader), "restricted-xml");
  EXPECT_EQ(error_of(kHeader + "<message><body>&foo;</body></message>"), "restricted-xml");
  EXPECT_EQ(error_of(kHeader + "<message to='&foo;'/>"), "restricted-xml");
  EXPECT_EQ(error_of(kHeader + "<message><?php echo 1 ?></message>"), "restricted-xml");
  EXPECT_EQ(error_of("<?xml-stylesheet href='a.xsl'?>" + kHeader), "restricted-xml");
  EXPECT_EQ(error_of(kHeader + "<!-- keepalive -->"), "restricted-xml");
  EXPECT_EQ(error_of(kHeader + "<message><!-- x --></message>"), "restricted-xml");
  EXPECT_EQ(error_of("<!-- hello -->" + kHeader), "restricted-xml");
  // The five predefined entities and character references are fine.
  EXPECT_EQ(error_of(kHeader + "<message><body>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;</body></message>"), "");
}

TEST(XmlStreamParser, RefusesBillionLaughs) {
  std::string doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i <= 9; ++i) {
    doc += "<!ENTITY lol" + std::to_string(i) + " '";
    for (int j = 0; j < 10; ++j) doc += i == 1 ? "&lol;" : "&lol" + std::to_string(i - 1) + ";";
    doc += "'>";
  }
  doc += "]>" + kHeader + "<message><body>&lol9;</body></message>";
  EXPECT_EQ(error_of(doc), "restricted-xml");
}

TEST(XmlStreamParser, ChecksStreamAndContentNamespaces) {  // RFC 6120 §4.8
  EXPECT_EQ(error_of("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/wrong'>"),
            "invalid-namespace");
  EXPECT_EQ(error_of("<stream xmlns='jabber:client'>"), "invalid-namespace");
  EXPECT_EQ(error_of("<stream:features xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"),
            "invalid-namespace");
  EXPECT_EQ(error_of("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>"),
            "invalid-namespace");
  EXPECT_EQ(error_of("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"), "invalid-namespace");
  // Any prefix may stand for the stream namespace (XML Namespaces), and s2s expects jabber:server.
  EXPECT_EQ(error_of("<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'><s:features/>"), "");
  Recorder recorder;
  StreamParser s2s(recorder, std::string(kServerNs));
  EXPECT_TRUE(s2s.feed("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                       "xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>"
                       "<db:result from='a.example' to='b.example'>key</db:result>"));
  EXPECT_EQ(recorder.header.extra_ns,
            (std::vector<std::pair<std::string, std::string>>{{"db", "jabber:server:dialback"}}));
  ASSERT_EQ(recorder.stanzas.size(), 1u);
  EXPECT_EQ(recorder.stanzas[0].ns(), "jabber:server:dialback");
}


TEST(XmlStreamParser, RefusesIllFormedInput) {
  EXPECT_EQ(error_of(kHeader + "<message><body>\xC3\x28</body></message>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message><body>\xC0\xAF</body></message>"), "not-well-formed");  // overlong
  EXPECT_EQ(error_of(kHeader + "<message><body>\xED\xA0\x80</body></message>"), "not-well-formed");  // surrogate
  EXPECT_EQ(error_of(kHeader + "<message to='\xFF'/>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + std::string("<message><body>a\0b</body></message>", 35)), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message><body>&#0;</body></message>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<foo:bar/>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message foo:x='1'/>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message></iq>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message a='1' a='2'/>"), "not-well-formed");
  EXPECT_EQ(error_of(kHeader + "<message><body>x</message>"), "not-well-formed");
  EXPECT_EQ(error_of("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' <"),
            "not-well-formed");
  // Well-formed XML that XMPP cannot process: text between stanzas (RFC 6120 §4.9.3.1).
  EXPECT_EQ(error_of(kHeader + "  hello <presence/>"), "bad-format");
}

// Found by tests/fuzz/xml_stream_fuzz (corpus: text_then_cdata_end): expat refuses a run of
// text holding "]]>" as one invalid token without reporting the text first, so between
// stanzas the condition was not-well-formed when the run came in one read and bad-format when
// a read ended inside it. The text comes first: bad-format, however the input is split.
TEST(XmlStreamParser, TextBeforeCdataEndBetweenStanzasIsBadFormatHoweverSplit) {
  for (const std::string tail : {"ab]]><presence/>", " x]]]><presence/>", "\xC3\xA9]]><presence/>", "\nhello]]><iq/>"}) {
    const std::string input = kHeader + "<presence/>" + tail;
    SCOPED_TRACE(input);
    for (std::size_t split = 0; split <= input.size(); ++split) {
      const std::vector<std::string> events = feed_split_at(input, split);
      ASSERT_FALSE(events.empty());
      ASSERT_EQ(events.back(), "error bad-format (text outside of any stanza)") << "split at " << split;
    }
  }
  // Without text before it, "]]>" between stanzas stays not-well-formed (XML 1.0 §2.4).
  EXPECT_EQ(error_of(kHeader + "<presence/> \n]]><presence/>"), "not-well-formed");
  // Inside a stanza text is allowed, and "]]>" is not-well-formed, however split.
  EXPECT_EQ(error_of(kHeader + "<message><body>ab]]></body></message>"), "not-well-formed");
}

// Fed byte by byte, the error is reported no later than at the end of `then`.
std::string error_after(const std::string& before, const std::string& then) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  for (char c : before + then) parser.feed(std::string_view(&c, 1));
  return recorder.condition;
}

TEST(XmlStreamParser, ReportsMalformedInputWithoutWaitingForMore) {
  EXPECT_EQ(error_after("GET / HTTP/1.1\r\n", ""), "not-well-formed");
  EXPECT_EQ(error_after(kHeader + "<message to='x>", "<body"), "not-well-formed");  // unclosed quote
  EXPECT_EQ(error_after(kHeader + "<message x'lns='jabber:client'", ""), "not-well-formed");
  EXPECT_EQ(error_after(kHeader + "<message><body>\xFF", "</body>"), "not-well-formed");
  EXPECT_EQ(error_after(kHeader + "<message><body>&foo;", "</body>"), "restricted-xml");
}

TEST(XmlStreamParser, RefusesEncodingsOtherThanUtf8) {  // RFC 6120 §11.6
  EXPECT_EQ(error_of("<?xml version='1.0' encoding='ISO-8859-1'?>" + kHeader), "unsupported-encoding");
  EXPECT_EQ(error_of("<?xml version='1.0' encoding='utf-8'?>" + kHeader), "");
  EXPECT_EQ(error_of("\xFE\xFF" + std::string("\0<", 2)), "unsupported-encoding");
  EXPECT_EQ(error_of(std::string("<\0s\0", 4)), "unsupported-encoding");
  EXPECT_EQ(error_of("\xEF\xBB\xBF" + kHeader), "not-well-formed");  // U+FEFF is no BOM in XMPP
}

std::string stanza_of_size(std::size_t size) {
  const std::string open = "<message><body>", close = "</body></message>";
  return open + std::string(size - open.size() - close.size(), 'x') + close;
}

TEST(XmlStreamParser, StanzaSizeLimitIsExactAndSplitIndependent) {
  StreamParser::Limits limits;
  limits.max_stanza_bytes = 300;
  for (const std::size_t size : {299u, 300u, 301u}) {
    const std::string input = kHeader + " \n" + stanza_of_size(size) + "\n" + stanza_of_size(200) + "</stream:stream>";
    const std::vector<std::string> at_once = feed_in_pieces(input, input.size(), limits);
    ASSERT_EQ(at_once.back(), size <= 300 ? "close" : "error policy-violation (stanza too large)") << size;
    for (std::size_t piece : {1u, 2u, 3u, 64u, 301u}) {
      EXPECT_EQ(feed_in_pieces(input, piece, limits), at_once) << size << " in pieces of " << piece;
    }
  }
  // Empty-element stanzas are measured to their "/>".
  const std::string empty_300 = "<message id='" + std::string(300 - 16, 'a') + "'/>";
  ASSERT_EQ(empty_300.size(), 300u);
  EXPECT_EQ(error_of(kHeader + empty_300, limits), "");
  EXPECT_EQ(error_of(kHeader + "<message id='" + std::string(301 - 16, 'a') + "'/>", limits), "policy-violation");
  // One huge token (an attribute value) is measured the same way.
  const std::string big_attr = "<message id='" + std::string(400, 'a') + "'/>";
  EXPECT_EQ(error_of(kHeader + big_attr, limits), "policy-violation");
  EXPECT_EQ(error_of(kHeader + "<message id='" + std::string(250, 'a') + "'/>", limits), "");
}

// Between stanzas the expat parser is freed and, on the next byte, set up again in the
// stream's context: the root's own prefix, the default namespace and every prefix it
// declared (even with quotes and entities in the URI); the size limit stays exact.
TEST(XmlStreamParser, AnIdleParserIsFreedAndResumesInTheStreamsContext) {
  const std::string server_ns(kServerNs);
  StreamParser::Limits limits;
  limits.max_stanza_bytes = 300;
  Recorder recorder;
  StreamParser parser(recorder, server_ns, limits);
  EXPECT_TRUE(parser.feed("<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams' "
                          "xmlns:db='jabber:server:dialback' xmlns:q=\"urn:a'b&amp;c&#9;d\" to='example.org'>"));
  EXPECT_TRUE(parser.released());
  EXPECT_TRUE(parser.feed("<db:result from='a.example' to='b.example'>KEY</db:res"));
  EXPECT_FALSE(parser.released());  // in the middle of a stanza
  EXPECT_TRUE(parser.feed("ult> "));
  EXPECT_TRUE(parser.released());
  EXPECT_TRUE(parser.feed("<q:x/>"));
  EXPECT_TRUE(parser.feed("<message/>"));
  EXPECT_TRUE(parser.feed("<s:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>"));
  EXPECT_TRUE(parser.feed(stanza_of_size(300)));
  EXPECT_TRUE(parser.released());
  ASSERT_EQ(recorder.stanzas.size(), 5u);
  EXPECT_EQ(recorder.stanzas[0].name(), "result");
  EXPECT_EQ(recorder.stanzas[0].ns(), "jabber:server:dialback");
  EXPECT_EQ(recorder.stanzas[0].text(), "KEY");
  EXPECT_EQ(recorder.stanzas[1].ns(), "urn:a'b&c\td");
  EXPECT_EQ(recorder.stanzas[2].ns(), server_ns);
  EXPECT_EQ(recorder.stanzas[3].name(), "error");
  EXPECT_EQ(recorder.stanzas[3].ns(), kStreamNs);
  EXPECT_EQ(recorder.stanzas[4].ns(), server_ns);
  EXPECT_FALSE(parser.feed(stanza_of_size(301)));
  EXPECT_EQ(recorder.condition, "policy-violation");

  // The close tag must match the root's qualified name, after a release as before.
  Recorder closing;
  StreamParser closed(closing, server_ns);
  closed.feed("<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams'>");
  closed.feed("<message/>");
  EXPECT_TRUE(closed.released());
  closed.feed("</s:stream>");
  EXPECT_EQ(closing.events.back(), "close");
  Recorder mismatched;
  StreamParser wrong(mismatched, server_ns);
  wrong.feed("<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams'><message/>");
  EXPECT_TRUE(wrong.released());
  EXPECT_FALSE(wrong.feed("</stream:stream>"));
  EXPECT_EQ(mismatched.condition, "not-well-formed");
}

TEST(XmlStreamParser, AParserToldToKeepItsStateIsNeverFreed) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  parser.set_release_when_idle(false);
  EXPECT_TRUE(parser.feed(kHeader));
  EXPECT_TRUE(parser.feed("<presence/>"));
  EXPECT_FALSE(parser.released());
  parser.set_release_when_idle(true);  // between stanzas: freed at once
  EXPECT_TRUE(parser.released());
  EXPECT_TRUE(parser.feed("<presence/><pres"));
  parser.set_release_when_idle(false);
  parser.set_release_when_idle(true);  // in the middle of a stanza: kept
  EXPECT_FALSE(parser.released());
  EXPECT_TRUE(parser.feed("ence/>"));
  EXPECT_TRUE(parser.released());
  EXPECT_EQ(recorder.stanzas.size(), 3u);
}

TEST(XmlStreamParser, DefaultStanzaLimitHoldsForAnyChunking) {
  const std::string ok = kHeader + stanza_of_size(256 * 1024);
  const std::string too_big = kHeader + stanza_of_size(256 * 1024 + 1);
  for (std::size_t piece : {std::size_t(1), std::size_t(64 * 1024), std::size_t(1) << 30}) {
    EXPECT_EQ(feed_in_pieces(ok, piece).back().substr(0, 6), "stanza") << piece;
    EXPECT_EQ(feed_in_pieces(too_big, piece).back(), "error policy-violation (stanza too large)") << piece;
  }
}

TEST(XmlStreamParser, HugeStanzaIsRefusedLongBeforeItEnds) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  ASSERT_TRUE(parser.feed(kHeader + "<message><body>"));
  const std::string chunk(4096, 'x');
  std::size_t fed = 0;
  while (fed < 10 * 1024 * 1024 && parser.feed(chunk)) {
    fed += chunk.size();
    ASSERT_LE(parser.bytes_buffered(), 256 * 1024 + 1);
  }
  EXPECT_EQ(recorder.condition, "policy-violation");
  EXPECT_EQ(recorder.text, "stanza too large");
  EXPECT_LT(fed, 256 * 1024 + chunk.size());
  EXPECT_FALSE(parser.feed("</body></message>"));
}

TEST(XmlStreamParser, LimitsDepthAttributesAndHeaderSize) {
  std::string deep = kHeader, deep_ok = kHeader;
  for (int i = 0; i < 65; ++i) deep += "<a>";
  for (int i = 0; i < 64; ++i) deep_ok += "<a>";
  for (int i = 0; i < 64; ++i) deep_ok += "</a>";
  EXPECT_EQ(error_of(deep), "policy-violation");
  EXPECT_EQ(error_of(deep_ok), "");

  std::string many = "<message", enough = "<message";
  for (int i = 0; i < 65; ++i) many += " a" + std::to_string(i) + "='1'";
  for (int i = 0; i < 64; ++i) enough += " a" + std::to_string(i) + "='1'";
  EXPECT_EQ(error_of(kHeader + many + "/>"), "policy-violation");
  EXPECT_EQ(error_of(kHeader + enough + "/>"), "");
  std::string declarations = "<message";  // namespace declarations count too
  for (int i = 0; i < 65; ++i) declarations += " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(i) + "'";
  EXPECT_EQ(error_of(kHeader + declarations + "/>"), "policy-violation");

  const std::string long_id = std::string(kHeader).insert(kHeader.size() - 1, " id='" + std::string(5000, 'i') + "'");
  EXPECT_EQ(error_of(long_id), "policy-violation");
  EXPECT_EQ(error_of("<?xml version='1.0'?>" + std::string(5000, ' ') + kHeader), "policy-violation");
}

TEST(XmlStreamParser, ResetStartsAFreshStream) {
  Recorder recorder;
  StreamParser parser(recorder, kClient);
  recorder.reset_on = &parser;
  // STARTTLS (RFC 6120 §5.4.3.3): what follows <starttls/> in the same read is dropped.
  EXPECT_TRUE(parser.feed(kHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message/>"));
  EXPECT_EQ(recorder.stanzas.size(), 1u);
  EXPECT_FALSE(parser.stream_open());
  EXPECT_TRUE(parser.feed("<?xml version='1.0'?>" + kHeader + "<message/>"));
  EXPECT_TRUE(parser.stream_open());
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{"open to=example.org from= id= version=1.0 lang= ns=jabber:client",
                                      "stanza <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
                                      "open to=example.org from= id= version=1.0 lang= ns=jabber:client",
                                      "stanza <message/>"}));
  // After an error too.
  EXPECT_FALSE(parser.feed("<!-- no -->"));
  EXPECT_TRUE(parser.failed());
  parser.reset();
  EXPECT_FALSE(parser.failed());
  EXPECT_TRUE(parser.feed(kHeader + "<presence/></stream:stream>"));
  EXPECT_EQ(recorder.events.back(), "close");
  // Input after the close is ignored.
  EXPECT_TRUE(parser.feed("<junk"));
  EXPECT_EQ(recorder.events.back(), "close");
}

TEST(XmlStreamParser, HandlerExceptionsPropagateAndFailTheParser) {
  struct Throwing : Recorder {
    void on_stanza(Element&&) override { throw std::runtime_error("boom"); }
  } handler;
  StreamParser parser(handler, kClient);
  EXPECT_THROW(parser.feed(kHeader + "<message/><presence/>"), std::runtime_error);
  EXPECT_TRUE(parser.failed());
  EXPECT_FALSE(parser.feed("<iq/>"));
}

}  // namespace
}  // namespace parley::server::xml
