// XMPP addresses (RFC 7622): the examples of §3.5, the preparation of each part, the
// length limits, and the value semantics the router relies on.
#include "server/jid.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <unordered_set>

namespace parley::server {
namespace {

struct Expected {
  const char* input;
  const char* local;
  const char* domain;
  const char* resource;
  const char* full;
};

void expect_jid(const Expected& e) {
  SCOPED_TRACE(e.input);
  auto jid = Jid::parse(e.input);
  ASSERT_TRUE(jid.has_value());
  EXPECT_EQ(jid->local(), e.local);
  EXPECT_EQ(jid->domain(), e.domain);
  EXPECT_EQ(jid->resource(), e.resource);
  EXPECT_EQ(jid->full(), e.full);
  EXPECT_EQ(jid->str(), e.full);
  EXPECT_EQ(jid->has_local(), *e.local != '\0');
  EXPECT_EQ(jid->is_bare(), *e.resource == '\0');
  // The canonical form parses back to the same address.
  auto again = Jid::parse(jid->full());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *jid);
}

// A domain name of exactly `n` bytes: labels of 50 'a', dot-separated.
std::string domain_of(std::size_t n) {
  std::string d(n, 'a');
  for (std::size_t i = 50; i < n; i += 51) d[i] = '.';
  return d;
}

TEST(JidRfc7622, ValidExamplesOfSection351) {
  const Expected cases[] = {
      {"juliet@example.com", "juliet", "example.com", "", "juliet@example.com"},
      {"juliet@example.com/foo", "juliet", "example.com", "foo", "juliet@example.com/foo"},
      {"juliet@example.com/foo bar", "juliet", "example.com", "foo bar",
       "juliet@example.com/foo bar"},
      {"juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar",
       "juliet@example.com/foo@bar"},
      {"foo\\20bar@example.com", "foo\\20bar", "example.com", "", "foo\\20bar@example.com"},
      {"fussball@example.com", "fussball", "example.com", "", "fussball@example.com"},
      {"fu\u00DFball@example.com", "fu\u00DFball", "example.com", "",
       "fu\u00DFball@example.com"},  // ß is kept, not folded to "ss"
      {"\u03C0@example.com", "\u03C0", "example.com", "", "\u03C0@example.com"},
      {"\u03A3@example.com/foo", "\u03C3", "example.com", "foo", "\u03C3@example.com/foo"},
      {"\u03C3@example.com/foo", "\u03C3", "example.com", "foo", "\u03C3@example.com/foo"},
      {"\u03C2@example.com/foo", "\u03C2", "example.com", "foo", "\u03C2@example.com/foo"},
      {"king@example.com/\u265A", "king", "example.com", "\u265A", "king@example.com/\u265A"},
      {"example.com", "", "example.com", "", "example.com"},
      {"example.com/foobar", "", "example.com", "foobar", "example.com/foobar"},
      {"a.example.com/b@example.net", "", "a.example.com", "b@example.net",
       "a.example.com/b@example.net"},
  };
  for (const auto& c : cases) expect_jid(c);
}

TEST(JidRfc7622, InvalidExamplesOfSection352) {
  EXPECT_FALSE(Jid::parse("\"juliet\"@example.com"));  // quotation marks (§3.3.1)
  EXPECT_FALSE(Jid::parse("foo bar@example.com"));     // space in localpart
  EXPECT_FALSE(Jid::parse("@example.com/"));           // empty localpart and resourcepart
  EXPECT_FALSE(Jid::parse("henry\u2163@example.com"));  // ROMAN NUMERAL FOUR: HasCompat
  EXPECT_FALSE(Jid::parse("\u265A@example.com"));       // symbol in localpart
  EXPECT_FALSE(Jid::parse("juliet@"));                  // no domainpart
  EXPECT_FALSE(Jid::parse("/foobar"));                  // no domainpart
}

TEST(JidRfc7622, LeadingSpaceInResourcepartIsValidPerErrata4560) {
  // §3.5.2 lists "juliet@example.com/ foo" as invalid, but the OpaqueString profile that
  // §3.4 applies to resourceparts allows spaces anywhere; RFC Errata 4560 points out the
  // mistake, and we follow the profile.
  expect_jid({"juliet@example.com/ foo", "juliet", "example.com", " foo",
              "juliet@example.com/ foo"});
}

TEST(JidParse, EmptyPartsAroundSeparatorsAreInvalid) {
  EXPECT_FALSE(Jid::parse(""));
  EXPECT_FALSE(Jid::parse("@"));
  EXPECT_FALSE(Jid::parse("/"));
  EXPECT_FALSE(Jid::parse("@/"));
  EXPECT_FALSE(Jid::parse("@example.com"));
  EXPECT_FALSE(Jid::parse("example.com/"));
  EXPECT_FALSE(Jid::parse("juliet@example.com/"));
  EXPECT_FALSE(Jid::parse("juliet@/balcony"));
}

TEST(JidParse, SplitsAtFirstSlashThenFirstAt) {
  // RFC 7622 §3.1: the resourcepart is everything after the first '/', even '@' and '/'.
  expect_jid({"juliet@example.com/a/b@c/d", "juliet", "example.com", "a/b@c/d",
              "juliet@example.com/a/b@c/d"});
  expect_jid({"example.com/@", "", "example.com", "@", "example.com/@"});
  // A second '@' before the '/' lands in the domainpart, where it is not allowed.
  EXPECT_FALSE(Jid::parse("a@b@example.com"));
}

TEST(JidParse, LocalpartIsCaseFoldedResourceIsNot) {
  expect_jid({"JULIET@EXAMPLE.COM", "juliet", "example.com", "", "juliet@example.com"});
  expect_jid({"Juliet@Example.Com/Balcony", "juliet", "example.com", "Balcony",
              "juliet@example.com/Balcony"});
  EXPECT_NE(*Jid::parse("juliet@example.com/Balcony"), *Jid::parse("juliet@example.com/balcony"));
}

TEST(JidParse, FullwidthIsMappedInLocalAndDomainKeptInResource) {
  // ＪＵＬＩＥＴ@ｅｘａｍｐｌｅ．ｃｏｍ/ＦＯＯ
  expect_jid({"\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C"
              "\uFF45\uFF0E\uFF43\uFF4F\uFF4D/\uFF26\uFF2F\uFF2F",
              "juliet", "example.com", "\uFF26\uFF2F\uFF2F", "juliet@example.com/\uFF26\uFF2F\uFF2F"});
}

TEST(JidParse, LocalpartExclusionsOfSection331) {
  for (const char* bad : {"a\"b", "a&b", "a'b", "a:b", "a<b", "a>b"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Jid::parse(std::string(bad) + "@example.com"));
    EXPECT_FALSE(Jid::make(bad, "example.com"));
  }
  // '/' and '@' cannot reach a parsed localpart, but make() must refuse them too.
  EXPECT_FALSE(Jid::make("a/b", "example.com"));
  EXPECT_FALSE(Jid::make("a@b", "example.com"));
  // A fullwidth '＠' maps to '@' and is then refused.
  EXPECT_FALSE(Jid::parse("a\uFF20b@example.com"));
  // Other printable ASCII is fine.
  expect_jid({"a!#$%*+=?^_`{|}~-.b@example.com", "a!#$%*+=?^_`{|}~-.b", "example.com", "",
              "a!#$%*+=?^_`{|}~-.b@example.com"});
}

TEST(JidParse, ResourcepartIsOpaqueString) {
  expect_jid({"juliet@example.com/Caf\u00E9 \u2615 \u2163", "juliet", "example.com",
              "Caf\u00E9 \u2615 \u2163", "juliet@example.com/Caf\u00E9 \u2615 \u2163"});
  // Non-ASCII spaces map to U+0020; NFC applies.
  expect_jid({"juliet@example.com/a\u00A0e\u0301", "juliet", "example.com", "a \u00E9",
              "juliet@example.com/a \u00E9"});
  EXPECT_FALSE(Jid::parse("juliet@example.com/foo\tbar"));     // control
  EXPECT_FALSE(Jid::parse("juliet@example.com/foo\u200Bbar"));  // default ignorable
}

TEST(JidParse, InvalidUtf8IsRejectedInEveryPart) {
  EXPECT_FALSE(Jid::parse("jul\xC3@example.com"));
  EXPECT_FALSE(Jid::parse("juliet@exa\xFFmple.com"));
  EXPECT_FALSE(Jid::parse("juliet@example.com/\xC3"));
  EXPECT_FALSE(Jid::parse("\xC0\xAF@example.com"));          // overlong
  EXPECT_FALSE(Jid::parse("juliet@example.com/\xED\xA0\x80"));  // surrogate
}

TEST(JidLimits, EachPartMayHave1023BytesNotMore) {
  const std::string l1023(1023, 'a'), l1024(1024, 'a');
  auto local = Jid::parse(l1023 + "@example.com");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->local(), l1023);
  EXPECT_FALSE(Jid::parse(l1024 + "@example.com"));

  auto resource = Jid::parse("example.com/" + l1023);
  ASSERT_TRUE(resource);
  EXPECT_EQ(resource->resource(), l1023);
  EXPECT_FALSE(Jid::parse("example.com/" + l1024));

  const std::string d1023 = domain_of(1023), d1024 = domain_of(1024);
  ASSERT_EQ(d1023.size(), 1023u);
  ASSERT_EQ(d1024.size(), 1024u);
  auto domain = Jid::parse("juliet@" + d1023 + "/r");
  ASSERT_TRUE(domain);
  EXPECT_EQ(domain->domain(), d1023);
  EXPECT_FALSE(Jid::parse("juliet@" + d1024 + "/r"));

  // All three at the limit at once.
  auto all = Jid::make(l1023, d1023, l1023);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->full().size(), 3 * 1023u + 2);
  EXPECT_EQ(all->local(), l1023);
  EXPECT_EQ(all->domain(), d1023);
  EXPECT_EQ(all->resource(), l1023);
}

TEST(JidLimits, LimitsApplyAfterPreparation) {
  // 1023 fullwidth 'Ａ' are 3069 bytes of input but 1023 bytes once width-mapped.
  std::string wide;
  for (int i = 0; i < 1023; ++i) wide += "\uFF21";
  auto jid = Jid::parse(wide + "@example.com");
  ASSERT_TRUE(jid);
  EXPECT_EQ(jid->local(), std::string(1023, 'a'));
  EXPECT_FALSE(Jid::parse(wide + "\uFF21@example.com"));
  // Multi-byte resource: 341 × ♚ is 1023 bytes, 342 is 1026.
  std::string kings;
  for (int i = 0; i < 341; ++i) kings += "\u265A";
  EXPECT_TRUE(Jid::parse("example.com/" + kings));
  EXPECT_FALSE(Jid::parse("example.com/" + kings + "\u265A"));
}

TEST(JidDomain, TrailingDotIsRemoved) {
  expect_jid({"juliet@example.com./r", "juliet", "example.com", "r", "juliet@example.com/r"});
  expect_jid({"example.com.", "", "example.com", "", "example.com"});
  expect_jid({"example\u3002com\u3002", "", "example.com", "", "example.com"});  // ideographic
  EXPECT_EQ(*Jid::parse("juliet@example.com."), *Jid::parse("juliet@example.com"));
  EXPECT_FALSE(Jid::parse("example.com.."));
  EXPECT_FALSE(Jid::parse("juliet@."));
  EXPECT_FALSE(Jid::parse(".example.com"));
  EXPECT_FALSE(Jid::parse("example..com"));
}

TEST(JidDomain, InternationalisedNamesAreStoredAsULabels) {
  expect_jid({"juliet@B\u00DCCHER.example", "juliet", "b\u00FCcher.example", "",
              "juliet@b\u00FCcher.example"});
  expect_jid({"juliet@xn--bcher-kva.example", "juliet", "b\u00FCcher.example", "",
              "juliet@b\u00FCcher.example"});
  // Nontransitional processing keeps ß (IDNA2008), so fußball.de is not fussball.de.
  EXPECT_EQ(normalize_domain("fu\u00DFball.de"), "fu\u00DFball.de");
  EXPECT_EQ(normalize_domain("EXAMPLE.org"), "example.org");
  EXPECT_EQ(normalize_domain("localhost"), "localhost");
}

TEST(JidDomain, InvalidNamesAreRefused) {
  for (const char* bad : {"", ".", "a_b.example", "-a.example", "a-.example", "exa mple.com",
                          "example.com:5222", "xn--a.example", "\u265A\u265A.example\uFFFF",
                          "a\u200Db.example", "\u05D0a.example", "999.1.1.1", "example.123"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(normalize_domain(bad), std::nullopt);
    EXPECT_FALSE(Jid::parse(std::string("juliet@") + bad));
  }
}

TEST(JidDomain, IpLiteralsAreKeptAsGiven) {
  expect_jid({"juliet@192.0.2.1/r", "juliet", "192.0.2.1", "r", "juliet@192.0.2.1/r"});
  expect_jid({"juliet@[2001:db8::1]/r", "juliet", "[2001:db8::1]", "r",
              "juliet@[2001:db8::1]/r"});
  expect_jid({"[::1]", "", "[::1]", "", "[::1]"});
  expect_jid({"192.0.2.1.", "", "192.0.2.1", "", "192.0.2.1"});
  EXPECT_EQ(normalize_domain("[::ffff:192.0.2.1]"), "[::ffff:192.0.2.1]");
  EXPECT_EQ(normalize_domain("2001:db8::1"), std::nullopt);  // unbracketed
  EXPECT_EQ(normalize_domain("[2001:db8::g]"), std::nullopt);
  EXPECT_EQ(normalize_domain("[192.0.2.1]"), std::nullopt);
  EXPECT_EQ(normalize_domain("[fe80::1%eth0]"), std::nullopt);
}

// Found by tests/fuzz/jid_fuzz (corpus: ip_literal_nul): the address check read the
// domainpart as a C string, so an IP address followed by NUL and anything at all was taken
// for that address and kept whole, invalid UTF-8 included.
TEST(JidDomain, NulAfterAnIpLiteralIsRefused) {
  using namespace std::string_literals;
  EXPECT_EQ(normalize_domain("1.0.2.1\0,/\x9C"s), std::nullopt);
  EXPECT_EQ(normalize_domain("192.0.2.1\0.evil"s), std::nullopt);
  EXPECT_EQ(normalize_domain("[::1\0]"s), std::nullopt);
  EXPECT_FALSE(Jid::parse("juliet@192.0.2.1\0\xFF/r"s));
  EXPECT_FALSE(Jid::make("juliet", "[2001:db8::1\0x]"s));
}

TEST(JidMake, BuildsFromPreparedOrRawParts) {
  auto jid = Jid::make("Juliet", "EXAMPLE.com", "Balcony");
  ASSERT_TRUE(jid);
  EXPECT_EQ(jid->full(), "juliet@example.com/Balcony");
  EXPECT_EQ(*jid, *Jid::parse("juliet@example.com/Balcony"));

  auto domain_only = Jid::make("", "example.com", "");
  ASSERT_TRUE(domain_only);
  EXPECT_EQ(domain_only->full(), "example.com");
  EXPECT_FALSE(domain_only->has_local());
  EXPECT_TRUE(domain_only->is_bare());

  auto with_resource = Jid::make("", "example.com", "a/b");
  ASSERT_TRUE(with_resource);
  EXPECT_EQ(with_resource->resource(), "a/b");

  EXPECT_FALSE(Jid::make("juliet", "", "r"));
  EXPECT_FALSE(Jid::make("foo bar", "example.com"));
  EXPECT_FALSE(Jid::make("juliet", "example.com", "\x01"));
}

TEST(JidValue, BareAndWithResource) {
  auto full = *Jid::parse("juliet@example.com/balcony");
  EXPECT_FALSE(full.is_bare());
  EXPECT_TRUE(full.has_resource());
  Jid bare = full.bare();
  EXPECT_TRUE(bare.is_bare());
  EXPECT_EQ(bare.full(), "juliet@example.com");
  EXPECT_EQ(bare.local(), "juliet");
  EXPECT_EQ(bare.resource(), "");
  EXPECT_EQ(bare, *Jid::parse("juliet@example.com"));
  EXPECT_EQ(bare.bare(), bare);
  EXPECT_EQ(Jid::parse("example.com/x")->bare().full(), "example.com");

  auto other = bare.with_resource("Orchard\u00A0Wall");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->full(), "juliet@example.com/Orchard Wall");
  EXPECT_FALSE(bare.with_resource(""));
  EXPECT_FALSE(bare.with_resource("a\tb"));
  EXPECT_EQ(full.with_resource("x")->full(), "juliet@example.com/x");
}

TEST(JidValue, EqualityHashAndOrderFollowTheCanonicalForm) {
  auto a = *Jid::parse("JULIET@Example.COM./Balcony");
  auto b = *Jid::parse("juliet@example.com/Balcony");
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::hash<Jid>{}(a), std::hash<Jid>{}(b));
  EXPECT_NE(a, *Jid::parse("romeo@example.com/Balcony"));
  EXPECT_NE(a, a.bare());
  // A domain JID and a localpart JID with the same text are different addresses.
  EXPECT_NE(*Jid::parse("example.com"), *Jid::parse("example@com"));

  std::unordered_set<Jid> set{a, b, a.bare(), *Jid::parse("romeo@example.com")};
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.contains(*Jid::parse("juliet@EXAMPLE.com")));

  EXPECT_LT(*Jid::parse("a@example.com"), *Jid::parse("b@example.com"));
}

TEST(JidValue, StreamsTheCanonicalForm) {
  std::ostringstream out;
  out << *Jid::parse("Juliet@Example.com/Balcony");
  EXPECT_EQ(out.str(), "juliet@example.com/Balcony");
}

}  // namespace
}  // namespace parley::server
