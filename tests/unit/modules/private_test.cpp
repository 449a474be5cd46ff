// The XML text that the private and vcard modules store: written, read back the same.
#include "modules/private/xml_text.hpp"

#include <gtest/gtest.h>

namespace parley::modules::private_storage {
namespace {

using server::xml::Element;
using server::xml::kXmlNs;

Element sample() {
  Element storage("storage", "storage:bookmarks");
  auto& conf = storage.add_child("conference", "storage:bookmarks");
  conf.set_attr("jid", "council@conference.example.org");
  conf.set_attr("name", "It's \"the\" <council> & co\twith\ttabs\nand lines");
  conf.set_attr("lang", std::string(kXmlNs), "en");
  conf.set_attr("flag", "urn:example:ext", "1");
  conf.add_child("nick", "storage:bookmarks").add_text("Romeo & <Juliet>\r\n");
  auto& other = storage.add_child("x", "urn:example:other");
  other.add_child("inner", "urn:example:other").add_text("deep");
  other.add_child("unqualified", "");
  storage.add_text(" tail ");
  storage.add_child("empty", "storage:bookmarks");
  return storage;
}

TEST(PrivateXmlText, RoundTripsNamespacesAttributesAndText) {
  Element e = sample();
  std::string text = write_xml(e);
  auto back = read_xml(text);
  ASSERT_TRUE(back.has_value()) << text;
  EXPECT_EQ(*back, e) << text;
  EXPECT_EQ(write_xml(*back), text);  // canonical: writing again gives the same bytes
}

TEST(PrivateXmlText, DeclaresNamespacesOnlyWhereTheyChange) {
  Element vcard("vCard", "vcard-temp");
  vcard.add_child("FN", "vcard-temp").add_text("Peter");
  EXPECT_EQ(write_xml(vcard), "<vCard xmlns='vcard-temp'><FN>Peter</FN></vCard>");
}

TEST(PrivateXmlText, ReadsCharacterReferencesAndDoubleQuotes) {
  auto e = read_xml("<a xmlns=\"urn:x\" b=\"&#x263A;&#65;\">&#233;&lt;</a>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->ns(), "urn:x");
  EXPECT_EQ(e->attr("b"), "\u263A" "A");
  EXPECT_EQ(e->text(), "\u00e9<");
}

TEST(PrivateXmlText, DropsCharactersXmlForbids) {
  Element e("a", "urn:x");
  e.add_text(std::string("x\x01y\x1f", 4));
  EXPECT_EQ(write_xml(e), "<a xmlns='urn:x'>xy</a>");
}

TEST(PrivateXmlText, RefusesWhatItDoesNotWrite) {
  for (const char* bad : {
           "",
           "text",
           "<a xmlns='urn:x'>",                      // unclosed
           "<a xmlns='urn:x'></b>",                  // mismatched
           "<a xmlns='urn:x'/><b/>",                 // two roots
           "<a xmlns='urn:x'><!-- c --></a>",        // comment
           "<a xmlns='urn:x'><![CDATA[x]]></a>",     // CDATA
           "<?xml version='1.0'?><a/>",              // declaration
           "<!DOCTYPE a><a/>",                       // DTD
           "<a xmlns='urn:x'>&unknown;</a>",         // entity
           "<a xmlns='urn:x'>&#0;</a>",              // forbidden character
           "<a xmlns='urn:x'>&#xD800;</a>",          // surrogate
           "<a xmlns='urn:x' p:b='1'/>",             // undeclared prefix
           "<p:a xmlns:p='urn:x'/>",                 // prefixed element (never written)
           "<a xmlns='urn:x' b='1/>",                // unterminated value
           "<a xmlns='urn:x' b=1/>",                 // unquoted value
           "<a xmlns='urn:x' b='<'/>",               // '<' in a value
       }) {
    EXPECT_FALSE(read_xml(bad).has_value()) << bad;
  }
}

TEST(PrivateXmlText, RefusesDeepNesting) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "<a xmlns='urn:x'>";
  for (int i = 0; i < 200; ++i) deep += "</a>";
  EXPECT_FALSE(read_xml(deep).has_value());
  std::string ok;
  for (int i = 0; i < 100; ++i) ok += "<a xmlns='urn:x'>";
  for (int i = 0; i < 100; ++i) ok += "</a>";
  EXPECT_TRUE(read_xml(ok).has_value());
}

}  // namespace
}  // namespace parley::modules::private_storage
