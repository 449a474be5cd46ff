// Which messages a user archive keeps (modules/mam/mam_rules.hpp), stanza-id handling, the
// preference decision, the stored form, and the SQL array literal (mam_store.hpp).
#include "modules/mam/mam_rules.hpp"

#include <gtest/gtest.h>

#include "modules/mam/mam_store.hpp"
#include "server/xml/serializer.hpp"
#include "tests/unit/xml_snippet.hpp"

namespace parley::modules::mam {
namespace {

using server::Jid;
using server::Stanza;
using server::xml::Element;

Element parse(std::string_view xml, std::string_view ns = "jabber:client") { return test::parse_element(xml, ns); }

Stanza message(std::string_view xml) {
  auto st = server::make_stanza(parse(xml));
  if (!st) throw std::runtime_error("not a stanza");
  return std::move(*st);
}

Jid jid(std::string_view s) { return *Jid::parse(s); }

TEST(MamRules, ChatAndNormalMessagesWithABodyAreArchived) {
  EXPECT_TRUE(is_archivable(message("<message type='chat'><body>hi</body></message>")));
  EXPECT_TRUE(is_archivable(message("<message type='normal'><body>hi</body></message>")));
  EXPECT_TRUE(is_archivable(message("<message><body>no type is normal</body></message>")));
  EXPECT_FALSE(is_archivable(message("<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")))
      << "a chat state alone is not a conversation";
  for (const char* type : {"groupchat", "headline", "error"}) {
    EXPECT_FALSE(is_archivable(message(std::string("<message type='") + type + "'><body>x</body></message>"))) << type;
  }
}

TEST(MamRules, Xep0334HintsAreHonoured) {
  EXPECT_FALSE(is_archivable(message("<message type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>")));
  EXPECT_FALSE(is_archivable(
      message("<message type='chat'><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>")));
  EXPECT_TRUE(is_archivable(message("<message type='chat'><store xmlns='urn:xmpp:hints'/>"
                                    "<encrypted xmlns='eu.siacs.conversations.axolotl'/></message>")))
      << "<store/> keeps a message without a body";
  EXPECT_FALSE(is_archivable(message("<message type='headline'><body>x</body><store xmlns='urn:xmpp:hints'/></message>")));
}

TEST(MamRules, OnlyTheArchivesOwnStanzaIdsAreStripped) {
  Element m = parse("<message><body>x</body>"
                    "<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@capulet.lit' id='forged'/>"
                    "<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='theirs'/>"
                    "<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@capulet.lit' id='forged2'/></message>");
  EXPECT_EQ(strip_stanza_ids(m, "juliet@capulet.lit"), 2u);
  add_stanza_id(m, "juliet@capulet.lit", "0000000000001");
  std::vector<std::pair<std::string, std::string>> ids;
  for (const auto& c : m.children()) {
    if (c.name() == "stanza-id") ids.emplace_back(c.attr("by").value_or(""), c.attr("id").value_or(""));
  }
  EXPECT_EQ(ids, (std::vector<std::pair<std::string, std::string>>{{"room@muc.example", "theirs"},
                                                                    {"juliet@capulet.lit", "0000000000001"}}));
  EXPECT_EQ(body_text(m), "x");
}

TEST(MamRules, PreferencesDecide) {
  // Lists as parse_prefs and load_prefs give them: sorted.
  Prefs p{Policy::always, {"nurse@capulet.lit"}, {"romeo@montague.lit/hidden", "tybalt@capulet.lit"}};
  EXPECT_EQ(decide(p, jid("anyone@else.lit")), Decision::archive);
  EXPECT_EQ(decide(p, jid("tybalt@capulet.lit/sword")), Decision::skip) << "a bare JID covers its resources";
  EXPECT_EQ(decide(p, jid("romeo@montague.lit/hidden")), Decision::skip) << "a full JID only itself";
  EXPECT_EQ(decide(p, jid("romeo@montague.lit/orchard")), Decision::archive);
  p.policy = Policy::never;
  EXPECT_EQ(decide(p, jid("anyone@else.lit")), Decision::skip);
  EXPECT_EQ(decide(p, jid("nurse@capulet.lit/kitchen")), Decision::archive);
  p.policy = Policy::roster;
  EXPECT_EQ(decide(p, jid("anyone@else.lit")), Decision::ask_roster);
  p.always.push_back("tybalt@capulet.lit");
  std::sort(p.always.begin(), p.always.end());
  EXPECT_EQ(decide(p, jid("tybalt@capulet.lit")), Decision::skip) << "never wins over always";
}

TEST(MamRules, StoredFormReadsBackAndUsesJabberClient) {
  Element m = parse("<message to='a@b' from='c@d/e' type='chat' id='1'><body>a &amp; b</body>"
                    "<x xmlns='urn:example'>deep<y/></x></message>");
  StoredStanzaReader reader;
  auto back = reader.read(to_stored(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
  // Over server-to-server a message is in jabber:server; its archived copy is not.
  Element s2s = parse("<message to='a@b' from='c@d/e'><body>hi</body></message>", "jabber:server");
  auto stored = to_stored(s2s);
  EXPECT_EQ(stored.find("jabber:server"), std::string::npos) << stored;
  auto read = reader.read(stored);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->ns(), "jabber:client");
  EXPECT_NE(read->find_child("body", "jabber:client"), nullptr);
  // A broken row is refused and does not spoil the next one.
  EXPECT_FALSE(reader.read("<message><body>cut"));
  EXPECT_FALSE(reader.read("not xml"));
  EXPECT_TRUE(reader.read(to_stored(m)));
}

TEST(MamStore, TextArrayLiteralsEscapeQuotesAndBackslashes) {
  EXPECT_EQ(text_array({}), "{}");
  EXPECT_EQ(text_array({"a", ""}), "{\"a\",\"\"}");
  EXPECT_EQ(text_array({"say \"hi\"", "back\\slash", "{,}", "NULL"}),
            "{\"say \\\"hi\\\"\",\"back\\\\slash\",\"{,}\",\"NULL\"}");
}

}  // namespace
}  // namespace parley::modules::mam
