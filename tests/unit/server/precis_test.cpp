// PRECIS profiles (RFC 8264, RFC 8265): the RFC 8265 examples and one case per rule of
// the derived-property algorithm (RFC 8264 §8), context rule (RFC 5892 Appendix A) and
// Bidi Rule condition (RFC 5893 §2) that the profiles depend on.
#include "server/precis.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace parley::server::precis {
namespace {

using std::nullopt;
using std::optional;
using std::string;

optional<string> some(const char* s) { return string(s); }

// --- UsernameCaseMapped (RFC 8265 §3.3) --------------------------------------------

TEST(PrecisUsername, Rfc8265Section35ValidExamples) {
  // RFC 8265 §3.5 Table 3, with the result of the case-mapped profile.
  EXPECT_EQ(username_case_mapped("juliet@example.com"), some("juliet@example.com"));
  EXPECT_EQ(username_case_mapped("fussball"), some("fussball"));
  EXPECT_EQ(username_case_mapped("fu\u00DFball"), some("fu\u00DFball"));  // ß is not folded
  EXPECT_EQ(username_case_mapped("\u03C0"), some("\u03C0"));              // π
  EXPECT_EQ(username_case_mapped("\u03A3"), some("\u03C3"));              // Σ -> σ
  EXPECT_EQ(username_case_mapped("\u03C3"), some("\u03C3"));              // σ
  EXPECT_EQ(username_case_mapped("\u03C2"), some("\u03C2"));              // ς stays final sigma
}

TEST(PrecisUsername, Rfc8265Section35InvalidExamples) {
  EXPECT_EQ(username_case_mapped("foo bar"), nullopt);        // space (RFC 8264 §9.14)
  EXPECT_EQ(username_case_mapped(""), nullopt);               // empty
  EXPECT_EQ(username_case_mapped("henry\u2163"), nullopt);    // ROMAN NUMERAL FOUR: HasCompat
  EXPECT_EQ(username_case_mapped("\u265A"), nullopt);         // BLACK CHESS KING: symbol
}

TEST(PrecisUsername, CaseMappingLowersAsciiAndUnicode) {
  EXPECT_EQ(username_case_mapped("JULIET"), some("juliet"));
  EXPECT_EQ(username_case_mapped("Ren\u00C9e"), some("ren\u00E9e"));         // É -> é
  EXPECT_EQ(username_case_mapped("\u0399\u03A3\u0391\u039A"),
            some("\u03B9\u03C3\u03B1\u03BA"));                            // ΙΣΑΚ -> ισακ
  // Unicode's default toLower uses the final-sigma context: ΣΑΣ -> σας.
  EXPECT_EQ(username_case_mapped("\u03A3\u0391\u03A3"), some("\u03C3\u03B1\u03C2"));
}

TEST(PrecisUsername, PrintableAsciiIsValid) {
  // RFC 8264 §9.11: ASCII7 code points other than controls and space are PVALID, so
  // punctuation that IdentifierClass refuses elsewhere in Unicode is fine in ASCII.
  EXPECT_EQ(username_case_mapped("!#$%&'*+-/=?^_`{|}~\"(),:;<>@[\\]"),
            some("!#$%&'*+-/=?^_`{|}~\"(),:;<>@[\\]"));
  EXPECT_EQ(username_case_mapped("a\tb"), nullopt);
  EXPECT_EQ(username_case_mapped("a\x7F"), nullopt);
  EXPECT_EQ(username_case_mapped(std::string("a\0b", 3)), nullopt);
}

TEST(PrecisUsername, WidthMappingUsesTheDecomposition) {
  // RFC 8265 §3.3.1 rule 1: fullwidth and halfwidth forms map to their decomposition.
  EXPECT_EQ(username_case_mapped("\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34"), some("juliet"));  // ＪＵＬＩＥＴ
  // Halfwidth katakana HA + halfwidth semi-voiced mark, then NFC: パ (U+30D1).
  EXPECT_EQ(username_case_mapped("\uFF8A\uFF9F"), some("\u30D1"));
  // Other compatibility characters are not mapped, so they stay HasCompat and are refused.
  EXPECT_EQ(username_case_mapped("\uFB00"), nullopt);  // LATIN SMALL LIGATURE FF
  EXPECT_EQ(username_case_mapped("x\u00B2"), nullopt);  // SUPERSCRIPT TWO
  // Titlecase ǅ lowers to ǆ, which has a compatibility decomposition.
  EXPECT_EQ(username_case_mapped("\u01C5"), nullopt);
}

TEST(PrecisUsername, NormalisesToNfcBeforeChecking) {
  EXPECT_EQ(username_case_mapped("e\u0301"), some("\u00E9"));
  // Conjoining jamo alone are OldHangulJamo (DISALLOWED, RFC 8264 §9.9), but NFC composes
  // a leading consonant and a vowel into a syllable, which is PVALID.
  EXPECT_EQ(username_case_mapped("\u1100\u1161"), some("\uAC00"));
  EXPECT_EQ(username_case_mapped("\u1100"), nullopt);
  // U+212B ANGSTROM SIGN is a canonical singleton: NFC makes it Å.
  EXPECT_EQ(username_case_mapped("\u212B"), some("\u00E5"));
}

TEST(PrecisUsername, DisallowedCategoriesAreRefused) {
  EXPECT_EQ(username_case_mapped("a\u00A0b"), nullopt);  // NO-BREAK SPACE: HasCompat
  EXPECT_EQ(username_case_mapped("a\u2003b"), nullopt);  // EM SPACE
  EXPECT_EQ(username_case_mapped("a\u00ADb"), nullopt);  // SOFT HYPHEN: default ignorable
  EXPECT_EQ(username_case_mapped("a\u2060b"), nullopt);  // WORD JOINER: default ignorable
  EXPECT_EQ(username_case_mapped("a\uFDD0"), nullopt);   // noncharacter
  EXPECT_EQ(username_case_mapped("a\uE000"), nullopt);   // private use
  EXPECT_EQ(username_case_mapped("a\u0378"), nullopt);   // unassigned
  EXPECT_EQ(username_case_mapped("a\u0085"), nullopt);   // NEL: control
  EXPECT_EQ(username_case_mapped("a\u2028"), nullopt);   // LINE SEPARATOR
  EXPECT_EQ(username_case_mapped("\u00BD"), nullopt);    // VULGAR FRACTION ONE HALF
  EXPECT_EQ(username_case_mapped("a\u2014b"), nullopt);  // EM DASH: punctuation
  EXPECT_EQ(username_case_mapped("\u20AC"), nullopt);    // EURO SIGN: symbol
  EXPECT_EQ(username_case_mapped("\u00BFa"), nullopt);   // INVERTED QUESTION MARK
}

TEST(PrecisUsername, LettersDigitsAndMarksOfOtherScriptsAreValid) {
  EXPECT_EQ(username_case_mapped("\u0434\u0436\u0443\u043B\u044C\u0435\u0442\u0442\u0430"),
            some("\u0434\u0436\u0443\u043B\u044C\u0435\u0442\u0442\u0430"));  // джульетта
  EXPECT_EQ(username_case_mapped("\u6731\u4E3D\u53F6"), some("\u6731\u4E3D\u53F6"));  // Han
  EXPECT_EQ(username_case_mapped("\u0915\u093F"), some("\u0915\u093F"));  // कि: Lo + Mc
  EXPECT_EQ(username_case_mapped("\u3007"), some("\u3007"));  // exception: PVALID
}

TEST(PrecisUsername, ExceptionsDisallowed) {
  // RFC 5892 §2.6: ARABIC TATWEEL is DISALLOWED although it is a letter (Lm).
  EXPECT_EQ(username_case_mapped("\u0628\u0640\u0628"), nullopt);
  EXPECT_EQ(username_case_mapped("\u0628\u0628"), some("\u0628\u0628"));
}

TEST(PrecisUsername, ContextJRules) {
  // RFC 5892 A.2: ZERO WIDTH JOINER only after a virama.
  EXPECT_EQ(username_case_mapped("\u0915\u094D\u200D\u0937"), some("\u0915\u094D\u200D\u0937"));
  EXPECT_EQ(username_case_mapped("a\u200Db"), nullopt);
  // RFC 5892 A.1: ZERO WIDTH NON-JOINER after a virama, or between joining letters.
  EXPECT_EQ(username_case_mapped("\u0915\u094D\u200C\u0937"), some("\u0915\u094D\u200C\u0937"));
  EXPECT_EQ(username_case_mapped("\u0628\u200C\u0628"), some("\u0628\u200C\u0628"));
  EXPECT_EQ(username_case_mapped("a\u200Cb"), nullopt);
  EXPECT_EQ(username_case_mapped("\u0628\u200C"), nullopt);
}

TEST(PrecisUsername, ContextORules) {
  // A.3 MIDDLE DOT only between two 'l' (Catalan l·l).
  EXPECT_EQ(username_case_mapped("col\u00B7lecci\u00F3"), some("col\u00B7lecci\u00F3"));
  EXPECT_EQ(username_case_mapped("a\u00B7b"), nullopt);
  // A.4 GREEK KERAIA before a Greek letter.
  EXPECT_EQ(username_case_mapped("\u0375\u03B1"), some("\u0375\u03B1"));
  EXPECT_EQ(username_case_mapped("\u0375a"), nullopt);
  // A.5 HEBREW GERESH after a Hebrew letter.
  EXPECT_EQ(username_case_mapped("\u05D0\u05F3"), some("\u05D0\u05F3"));
  EXPECT_EQ(username_case_mapped("\u05F3"), nullopt);
  // A.7 KATAKANA MIDDLE DOT with Hiragana, Katakana or Han in the string.
  EXPECT_EQ(username_case_mapped("\u30AB\u30FB\u30AB"), some("\u30AB\u30FB\u30AB"));
  EXPECT_EQ(username_case_mapped("a\u30FBb"), nullopt);
  // A.8/A.9 Arabic-Indic and Extended Arabic-Indic digits must not be mixed.
  EXPECT_EQ(username_case_mapped("\u0628\u0661\u0662"), some("\u0628\u0661\u0662"));
  EXPECT_EQ(username_case_mapped("\u0628\u06F1\u06F2"), some("\u0628\u06F1\u06F2"));
  EXPECT_EQ(username_case_mapped("\u0628\u0661\u06F2"), nullopt);
}

TEST(PrecisUsername, BidiRule) {
  EXPECT_EQ(username_case_mapped("\u05D0\u05D1"), some("\u05D0\u05D1"));      // all R
  EXPECT_EQ(username_case_mapped("\u05D0\u05D1" "1"), some("\u05D0\u05D1" "1"));  // ends in EN
  EXPECT_EQ(username_case_mapped("\u05D0a"), nullopt);        // rule 2: L in an RTL string
  EXPECT_EQ(username_case_mapped("a\u05D0"), nullopt);        // rule 1/2
  EXPECT_EQ(username_case_mapped("1\u05D0"), nullopt);        // rule 1: starts with EN
  EXPECT_EQ(username_case_mapped("\u05D0!"), nullopt);        // rule 3: ends with ON
  EXPECT_EQ(username_case_mapped("\u0628" "1\u0661"), nullopt);  // rule 4: EN and AN
  // Left-to-right strings are not subject to the rule: they may end in punctuation.
  EXPECT_EQ(username_case_mapped("juliet!"), some("juliet!"));
  EXPECT_EQ(username_case_mapped("1juliet"), some("1juliet"));
}

TEST(PrecisUsername, InvalidUtf8IsRefused) {
  EXPECT_EQ(username_case_mapped("abc\xC3"), nullopt);             // truncated sequence
  EXPECT_EQ(username_case_mapped("\xC0\xAF"), nullopt);            // overlong '/'
  EXPECT_EQ(username_case_mapped("\xED\xA0\x80"), nullopt);        // surrogate U+D800
  EXPECT_EQ(username_case_mapped("\xF4\x90\x80\x80"), nullopt);    // above U+10FFFF
  EXPECT_EQ(username_case_mapped("a\xFF" "b"), nullopt);
  EXPECT_EQ(username_case_mapped("\x80"), nullopt);                // lone continuation
}

TEST(PrecisUsername, OverlongInputIsRefused) {
  EXPECT_EQ(username_case_mapped(std::string(kMaxInputBytes, 'a')), std::string(kMaxInputBytes, 'a'));
  EXPECT_EQ(username_case_mapped(std::string(kMaxInputBytes + 1, 'a')), nullopt);
}

// --- OpaqueString (RFC 8265 §4.2) --------------------------------------------------

TEST(PrecisOpaque, Rfc8265Section43Examples) {
  EXPECT_EQ(opaque_string("correct horse battery staple"), some("correct horse battery staple"));
  EXPECT_EQ(opaque_string("Correct Horse Battery Staple"), some("Correct Horse Battery Staple"));
  EXPECT_EQ(opaque_string("\u03C0\u00DF\u00E5"), some("\u03C0\u00DF\u00E5"));        // πßå
  EXPECT_EQ(opaque_string("Jack of \u2666s"), some("Jack of \u2666s"));              // ♦
  EXPECT_EQ(opaque_string("foo\u1680bar"), some("foo bar"));  // OGHAM SPACE MARK -> space
  EXPECT_EQ(opaque_string(""), nullopt);
  EXPECT_EQ(opaque_string("my cat is a \tby"), nullopt);      // tab is a control
}

TEST(PrecisOpaque, KeepsCaseAndWidthAndMapsSpaces) {
  EXPECT_EQ(opaque_string("Balcony"), some("Balcony"));
  EXPECT_EQ(opaque_string("\uFF2A"), some("\uFF2A"));        // fullwidth J is kept
  EXPECT_EQ(opaque_string("a\u00A0b\u3000c"), some("a b c"));  // NBSP, IDEOGRAPHIC SPACE
  EXPECT_EQ(opaque_string(" lead and trail "), some(" lead and trail "));
}

TEST(PrecisOpaque, FreeformClassAllowsWhatIdentifierRefuses) {
  EXPECT_EQ(opaque_string("\u265A"), some("\u265A"));              // symbol
  EXPECT_EQ(opaque_string("henry\u2163"), some("henry\u2163"));    // compatibility char
  EXPECT_EQ(opaque_string("\u00BD \u20AC \u2014"), some("\u00BD \u20AC \u2014"));
  EXPECT_EQ(opaque_string("e\u0301"), some("\u00E9"));             // NFC
}

TEST(PrecisOpaque, FreeformClassRefusals) {
  EXPECT_EQ(opaque_string("a\x01"), nullopt);        // control
  EXPECT_EQ(opaque_string("a\x7F"), nullopt);        // DEL
  EXPECT_EQ(opaque_string("a\nb"), nullopt);
  EXPECT_EQ(opaque_string("a\u0085"), nullopt);      // C1 control
  EXPECT_EQ(opaque_string("a\u00AD"), nullopt);      // default ignorable
  EXPECT_EQ(opaque_string("a\u200B"), nullopt);      // ZERO WIDTH SPACE: default ignorable
  EXPECT_EQ(opaque_string("a\u200Db"), nullopt);     // ZWJ without a virama (CONTEXTJ)
  EXPECT_EQ(opaque_string("a\uE000"), nullopt);      // private use
  EXPECT_EQ(opaque_string("a\U000E0001"), nullopt);  // LANGUAGE TAG
  EXPECT_EQ(opaque_string("a\u0378"), nullopt);      // unassigned
  EXPECT_EQ(opaque_string("a\uFFFF"), nullopt);      // noncharacter
  EXPECT_EQ(opaque_string("a\u2029"), nullopt);      // PARAGRAPH SEPARATOR
  EXPECT_EQ(opaque_string("a\u00B7b"), nullopt);     // MIDDLE DOT outside l·l (CONTEXTO)
}

TEST(PrecisOpaque, InvalidUtf8IsRefused) {
  EXPECT_EQ(opaque_string("pass\xC3"), nullopt);
  EXPECT_EQ(opaque_string("\xE0\x80\xAF"), nullopt);      // overlong
  EXPECT_EQ(opaque_string("\xED\xBF\xBF"), nullopt);      // surrogate U+DFFF
  EXPECT_EQ(opaque_string("\xF8\x88\x80\x80\x80"), nullopt);
}

}  // namespace
}  // namespace parley::server::precis
