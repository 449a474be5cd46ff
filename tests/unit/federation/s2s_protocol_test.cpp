// The Asio-free rules of s2s streams (federation/s2s_protocol.hpp): SASL EXTERNAL's
// authorization identity (XEP-0178), what an authenticated peer may send (RFC 6120 §4.9.3),
// and the namespace of stanzas between servers (RFC 6120 §4.8.3).
#include "federation/s2s_protocol.hpp"

#include <gtest/gtest.h>

#include "server/xml/serializer.hpp"
#include "tests/unit/xml_snippet.hpp"

namespace parley::federation {
namespace {

using server::xml::Element;

// One element as a peer server would send it: in a jabber:server stream.
Element parse(std::string_view xml) { return test::parse_element(xml, "jabber:server"); }

server::Stanza stanza(std::string_view xml) {
  auto st = server::make_stanza(to_client_namespace(parse(xml)));
  if (!st) throw std::runtime_error("not a stanza");
  return *st;
}

bool local(std::string_view domain) { return domain == "b.test"; }

TEST(ExternalAuth, AnEmptyAuthzidMeansTheClaimedDomain) {
  auto outcome = check_external_auth("=", "a.test");
  EXPECT_EQ(outcome.domain, "a.test");
  EXPECT_TRUE(outcome.failure.empty());
  EXPECT_EQ(check_external_auth("", "a.test").domain, "a.test");
}

TEST(ExternalAuth, TheAuthzidMayOnlyRepeatTheClaimedDomain) {
  EXPECT_EQ(check_external_auth("YS50ZXN0", "a.test").domain, "a.test");  // "a.test"
  EXPECT_EQ(check_external_auth("QS5URVNU", "a.test").domain, "a.test");  // "A.TEST", same domain
  EXPECT_EQ(check_external_auth("Yy50ZXN0", "a.test").failure, "invalid-authzid");     // "c.test"
  EXPECT_EQ(check_external_auth("dXNlckBhLnRlc3Q=", "a.test").failure, "invalid-authzid");  // user@a.test
  EXPECT_EQ(check_external_auth("=", "").failure, "invalid-authzid");  // nobody to be
}

TEST(ExternalAuth, BadBase64IsIncorrectEncoding) {
  EXPECT_EQ(check_external_auth("not base64!", "a.test").failure, "incorrect-encoding");
}

TEST(InboundStanza, FromTheAuthenticatedDomainToALocalOneIsRouted) {
  EXPECT_FALSE(check_inbound_stanza(stanza("<message from='alice@a.test/r' to='bob@b.test'/>"), "a.test", local));
  EXPECT_FALSE(check_inbound_stanza(stanza("<iq type='get' id='1' from='a.test' to='b.test'><ping xmlns='urn:xmpp:ping'/></iq>"),
                                    "a.test", local));
}

TEST(InboundStanza, AnotherSendingDomainIsInvalidFrom) {
  auto refusal = check_inbound_stanza(stanza("<message from='eve@c.test' to='bob@b.test'/>"), "a.test", local);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->condition, "invalid-from");
  EXPECT_NE(refusal->text.find("c.test"), std::string::npos);
  // A subdomain is another domain.
  refusal = check_inbound_stanza(stanza("<message from='eve@x.a.test' to='bob@b.test'/>"), "a.test", local);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->condition, "invalid-from");
}

TEST(InboundStanza, AForeignRecipientIsHostUnknown) {
  auto refusal = check_inbound_stanza(stanza("<message from='alice@a.test' to='carol@c.test'/>"), "a.test", local);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->condition, "host-unknown");
}

TEST(InboundStanza, MissingAddressesAreImproperAddressing) {
  for (auto xml : {"<message to='bob@b.test'/>", "<message from='alice@a.test'/>"}) {
    auto refusal = check_inbound_stanza(stanza(xml), "a.test", local);
    ASSERT_TRUE(refusal) << xml;
    EXPECT_EQ(refusal->condition, "improper-addressing");
  }
}

TEST(InboundStanza, TakenAsAStanzaInTheClientNamespaceOrRefused) {
  auto taken = take_inbound_stanza(parse("<message from='alice@a.test/r' to='bob@b.test'><body>hi</body></message>"),
                                   "a.test", local);
  ASSERT_TRUE(std::holds_alternative<server::Stanza>(taken));
  const auto& st = std::get<server::Stanza>(taken);
  EXPECT_EQ(st.element.ns(), "jabber:client");
  EXPECT_NE(st.element.find_child("body", "jabber:client"), nullptr);

  auto refused = take_inbound_stanza(parse("<message from='alice@@a.test' to='bob@b.test'/>"), "a.test", local);
  ASSERT_TRUE(std::holds_alternative<StanzaRefusal>(refused));
  EXPECT_EQ(std::get<StanzaRefusal>(refused).condition, "improper-addressing");
  refused = take_inbound_stanza(parse("<db:result xmlns:db='jabber:server:dialback' from='a.test' to='b.test'>k</db:result>"),
                                "a.test", local);
  ASSERT_TRUE(std::holds_alternative<StanzaRefusal>(refused));
  EXPECT_EQ(std::get<StanzaRefusal>(refused).condition, "unsupported-stanza-type");
  refused = take_inbound_stanza(parse("<message from='eve@c.test' to='bob@b.test'/>"), "a.test", local);
  ASSERT_TRUE(std::holds_alternative<StanzaRefusal>(refused));
  EXPECT_EQ(std::get<StanzaRefusal>(refused).condition, "invalid-from");
}

TEST(ServerNamespace, StanzasFromPeersJoinTheClientNamespace) {
  Element in = parse("<message to='bob@b.test'><body>hi &amp; bye</body><x xmlns='urn:example'>"
                     "<inner xmlns='jabber:server'/></x></message>");
  EXPECT_EQ(in.ns(), "jabber:server");
  Element out = to_client_namespace(in);
  EXPECT_EQ(out.ns(), "jabber:client");
  EXPECT_EQ(out.attr("to"), "bob@b.test");
  ASSERT_NE(out.find_child("body", "jabber:client"), nullptr);
  EXPECT_EQ(out.find_child("body", "jabber:client")->text(), "hi & bye");
  const Element* kept = out.find_child("x", "urn:example");
  ASSERT_NE(kept, nullptr);
  EXPECT_NE(kept->find_child("inner", "jabber:client"), nullptr);
  // Going out, a jabber:client stanza in a jabber:server stream needs no declaration.
  EXPECT_EQ(server::xml::serialize(out, "jabber:client"),
            "<message to='bob@b.test'><body>hi &amp; bye</body><x xmlns='urn:example'><inner xmlns='jabber:client'/></x></message>");
}

TEST(Dialback, ElementsCarryTheirPrefixAndEscapedValues) {
  EXPECT_EQ(dialback_result_request("a.test", "b.test", "abc"),
            "<db:result xmlns:db='jabber:server:dialback' from='a.test' to='b.test'>abc</db:result>");
  EXPECT_EQ(dialback_result_answer("b.test", "a.test", true),
            "<db:result xmlns:db='jabber:server:dialback' from='b.test' to='a.test' type='valid'/>");
  EXPECT_EQ(dialback_verify_request("b.test", "a.test", "i'd", "k<"),
            "<db:verify xmlns:db='jabber:server:dialback' from='b.test' to='a.test' id='i&apos;d'>k&lt;</db:verify>");
  Element answer = parse(dialback_verify_answer("a.test", "b.test", "s1", false));
  EXPECT_TRUE(is_dialback(answer, "verify"));
  EXPECT_FALSE(is_dialback(answer, "result"));
  EXPECT_EQ(answer.attr("type"), "invalid");
  EXPECT_EQ(answer.attr("id"), "s1");
}

TEST(Features, MechanismsAndErrors) {
  Element features = parse(
      "<stream:features>"
      "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>"
      "</stream:features>");
  EXPECT_TRUE(is_features(features));
  EXPECT_TRUE(offers_mechanism(features, "EXTERNAL"));
  EXPECT_FALSE(offers_mechanism(features, "PLAIN"));
  Element error = parse(
      "<stream:error>"
      "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text></stream:error>");
  EXPECT_TRUE(is_stream_error(error));
  EXPECT_EQ(error_summary(error), "host-unknown: no such host");
}

}  // namespace
}  // namespace parley::federation
