// PRECIS (RFC 8264) with ICU. The derived property of a code point is computed from ICU's
// character database in the order of RFC 8264 §8, so the tables follow ICU's Unicode
// version; nothing here hard-codes character ranges except the RFC 5892 §2.6 exceptions,
// which are a fixed list by definition.
#include "server/precis.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <cstdint>

namespace parley::server::precis {
namespace {

/// The derived property value of a code point (RFC 8264 §8). `free_pval` stands for the
/// values that differ between the classes: ID_DIS in the IdentifierClass, FREE_PVAL in
/// the FreeformClass.
enum class Property { pvalid, free_pval, contextj, contexto, disallowed, unassigned };

enum class StringClass { identifier, freeform };

const icu::Normalizer2* nfc() {
  static const icu::Normalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

const icu::Normalizer2* nfkc() {
  static const icu::Normalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

// RFC 5892 §2.6 Exceptions (F), as RFC 8264 §9.6 adopts them.
std::optional<Property> exception(UChar32 cp) {
  switch (cp) {
    case 0x00DF: case 0x03C2: case 0x06FD: case 0x06FE: case 0x0F0B: case 0x3007:
      return Property::pvalid;
    case 0x00B7: case 0x0375: case 0x05F3: case 0x05F4: case 0x30FB:
      return Property::contexto;
    case 0x0640: case 0x07FA: case 0x302E: case 0x302F: case 0x303B:
      return Property::disallowed;
    default:
      break;
  }
  if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06F0 && cp <= 0x06F9)) return Property::contexto;
  if (cp >= 0x3031 && cp <= 0x3035) return Property::disallowed;
  return std::nullopt;
}

// RFC 8264 §9.17 HasCompat: toNFKC(cp) != cp.
bool has_compat(UChar32 cp) {
  const icu::Normalizer2* n = nfkc();
  if (n == nullptr) return true;  // no ICU data: refuse rather than guess
  UErrorCode status = U_ZERO_ERROR;
  bool normalized = n->isNormalized(icu::UnicodeString(cp), status);
  return U_FAILURE(status) || !normalized;
}

// RFC 8264 §8: the first matching rule wins.
Property derive(UChar32 cp) {
  if (auto e = exception(cp)) return *e;                                   // §9.6
  // §9.7 BackwardCompatible: empty as of RFC 8264.
  const auto gc = static_cast<UCharCategory>(u_charType(cp));
  const bool noncharacter = u_hasBinaryProperty(cp, UCHAR_NONCHARACTER_CODE_POINT);
  if (gc == U_UNASSIGNED && !noncharacter) return Property::unassigned;    // §9.13
  if (cp >= 0x21 && cp <= 0x7E) return Property::pvalid;                    // §9.11 ASCII7
  if (u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL)) return Property::contextj;  // §9.8
  switch (u_getIntPropertyValue(cp, UCHAR_HANGUL_SYLLABLE_TYPE)) {          // §9.9 OldHangulJamo
    case U_HST_LEADING_JAMO: case U_HST_VOWEL_JAMO: case U_HST_TRAILING_JAMO:
      return Property::disallowed;
    default:
      break;
  }
  if (noncharacter || u_hasBinaryProperty(cp, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return Property::disallowed;                                            // §9.12
  }
  if (gc == U_CONTROL_CHAR) return Property::disallowed;                   // §9.14 Controls
  if (has_compat(cp)) return Property::free_pval;                          // §9.17
  switch (gc) {
    // §9.1 LetterDigits
    case U_LOWERCASE_LETTER: case U_UPPERCASE_LETTER: case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER: case U_MODIFIER_LETTER: case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
      return Property::pvalid;
    // §9.18 OtherLetterDigits
    case U_TITLECASE_LETTER: case U_LETTER_NUMBER: case U_OTHER_NUMBER: case U_ENCLOSING_MARK:
    // §9.14 Spaces
    case U_SPACE_SEPARATOR:
    // §9.15 Symbols
    case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL: case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
    // §9.16 Punctuation
    case U_CONNECTOR_PUNCTUATION: case U_DASH_PUNCTUATION: case U_START_PUNCTUATION:
    case U_END_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return Property::free_pval;
    default:
      return Property::disallowed;  // line/paragraph separators, Cf, Co, Cs
  }
}

bool is_virama(UChar32 cp) { return u_getCombiningClass(cp) == 9; }

int joining_type(UChar32 cp) { return u_getIntPropertyValue(cp, UCHAR_JOINING_TYPE); }

// RFC 5892 Appendix A.1 (ZERO WIDTH NON-JOINER) and A.2 (ZERO WIDTH JOINER).
bool contextj_ok(const std::u32string& s, std::size_t i) {
  if (i > 0 && is_virama(static_cast<UChar32>(s[i - 1]))) return true;
  if (s[i] != 0x200C) return false;
  // (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D})
  std::size_t b = i;
  while (b > 0 && joining_type(static_cast<UChar32>(s[b - 1])) == U_JT_TRANSPARENT) --b;
  if (b == 0) return false;
  int before = joining_type(static_cast<UChar32>(s[b - 1]));
  if (before != U_JT_LEFT_JOINING && before != U_JT_DUAL_JOINING) return false;
  std::size_t a = i + 1;
  while (a < s.size() && joining_type(static_cast<UChar32>(s[a])) == U_JT_TRANSPARENT) ++a;
  if (a == s.size()) return false;
  int after = joining_type(static_cast<UChar32>(s[a]));
  return after == U_JT_RIGHT_JOINING || after == U_JT_DUAL_JOINING;
}

UScriptCode script(char32_t cp) {
  UErrorCode status = U_ZERO_ERROR;
  UScriptCode sc = uscript_getScript(static_cast<UChar32>(cp), &status);
  return U_SUCCESS(status) ? sc : USCRIPT_INVALID_CODE;
}

bool contains_range(const std::u32string& s, char32_t lo, char32_t hi) {
  for (char32_t c : s) {
    if (c >= lo && c <= hi) return true;
  }
  return false;
}

// RFC 5892 Appendix A.3 to A.9; for PRECIS the "label" is the whole string.
bool contexto_ok(const std::u32string& s, std::size_t i) {
  const char32_t cp = s[i];
  const bool has_before = i > 0;
  const bool has_after = i + 1 < s.size();
  switch (cp) {
    case 0x00B7:  // A.3 MIDDLE DOT: between two 'l'
      return has_before && has_after && s[i - 1] == 0x006C && s[i + 1] == 0x006C;
    case 0x0375:  // A.4 GREEK LOWER NUMERAL SIGN (KERAIA): followed by Greek
      return has_after && script(s[i + 1]) == USCRIPT_GREEK;
    case 0x05F3:  // A.5 HEBREW PUNCTUATION GERESH: preceded by Hebrew
    case 0x05F4:  // A.6 HEBREW PUNCTUATION GERSHAYIM: preceded by Hebrew
      return has_before && script(s[i - 1]) == USCRIPT_HEBREW;
    case 0x30FB:  // A.7 KATAKANA MIDDLE DOT: some Hiragana, Katakana or Han in the string
      for (char32_t c : s) {
        UScriptCode sc = script(c);
        if (sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA || sc == USCRIPT_HAN) return true;
      }
      return false;
    default:
      break;
  }
  if (cp >= 0x0660 && cp <= 0x0669) return !contains_range(s, 0x06F0, 0x06F9);  // A.8
  if (cp >= 0x06F0 && cp <= 0x06F9) return !contains_range(s, 0x0660, 0x0669);  // A.9
  return false;
}

bool class_valid(const std::u32string& s, StringClass cls) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    switch (derive(static_cast<UChar32>(s[i]))) {
      case Property::pvalid:
        break;
      case Property::free_pval:
        if (cls != StringClass::freeform) return false;
        break;
      case Property::contextj:
        if (!contextj_ok(s, i)) return false;
        break;
      case Property::contexto:
        if (!contexto_ok(s, i)) return false;
        break;
      case Property::disallowed:
      case Property::unassigned:
        return false;
    }
  }
  return true;
}

// RFC 5893 §2, applied (RFC 8265 §3.3.1 rule 5) when the string holds a right-to-left
// code point. We take RFC 5893 §1.4's definition of an RTL label: one holding R, AL or AN.
bool bidi_rule_ok(const std::u32string& s) {
  auto dir = [](char32_t c) { return u_charDirection(static_cast<UChar32>(c)); };
  bool rtl = false;
  for (char32_t c : s) {
    UCharDirection d = dir(c);
    if (d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER) rtl = true;
  }
  if (!rtl || s.empty()) return true;
  // 1. The first character must be L, R or AL; with an RTL character present, L is then
  //    ruled out by rule 2, so it must be R or AL.
  UCharDirection first = dir(s.front());
  if (first != U_RIGHT_TO_LEFT && first != U_RIGHT_TO_LEFT_ARABIC) return false;
  bool has_en = false;
  bool has_an = false;
  for (char32_t c : s) {
    switch (dir(c)) {  // 2. allowed classes in an RTL label
      case U_RIGHT_TO_LEFT: case U_RIGHT_TO_LEFT_ARABIC: case U_EUROPEAN_NUMBER_TERMINATOR:
      case U_COMMON_NUMBER_SEPARATOR:
      case U_EUROPEAN_NUMBER_SEPARATOR: case U_OTHER_NEUTRAL: case U_BOUNDARY_NEUTRAL:
      case U_DIR_NON_SPACING_MARK:
        break;
      case U_EUROPEAN_NUMBER:
        has_en = true;
        break;
      case U_ARABIC_NUMBER:
        has_an = true;
        break;
      default:
        return false;
    }
  }
  if (has_en && has_an) return false;  // 4. EN and AN must not both be present
  // 3. The end, after any NSM, must be R, AL, EN or AN.
  std::size_t end = s.size();
  while (end > 0 && dir(s[end - 1]) == U_DIR_NON_SPACING_MARK) --end;
  if (end == 0) return false;
  UCharDirection last = dir(s[end - 1]);
  return last == U_RIGHT_TO_LEFT || last == U_RIGHT_TO_LEFT_ARABIC || last == U_EUROPEAN_NUMBER ||
         last == U_ARABIC_NUMBER;
}

// Strict UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): U8_NEXT
// reports any ill-formed sequence as a negative code point.
std::optional<icu::UnicodeString> decode_utf8(std::string_view in) {
  if (in.size() > kMaxInputBytes) return std::nullopt;
  const auto* s = reinterpret_cast<const std::uint8_t*>(in.data());
  const auto n = static_cast<std::int32_t>(in.size());
  icu::UnicodeString out;
  for (std::int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) return std::nullopt;
    out.append(c);
  }
  return out;
}

std::u32string code_points(const icu::UnicodeString& s) {
  std::u32string out;
  out.reserve(static_cast<std::size_t>(s.length()));
  for (std::int32_t i = 0; i < s.length();) {
    UChar32 c = s.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

// RFC 8265 §3.3.1 rule 1: fullwidth and halfwidth code points to their decomposition.
icu::UnicodeString width_map(const icu::UnicodeString& in) {
  icu::UnicodeString out;
  for (std::int32_t i = 0; i < in.length();) {
    UChar32 c = in.char32At(i);
    i += U16_LENGTH(c);
    int dt = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
    icu::UnicodeString decomposition;
    if ((dt == U_DT_WIDE || dt == U_DT_NARROW) && nfkc()->getRawDecomposition(c, decomposition)) {
      out.append(decomposition);
    } else {
      out.append(c);
    }
  }
  return out;
}

// RFC 8265 §4.2.1 rule 2: non-ASCII spaces to U+0020.
icu::UnicodeString map_spaces(const icu::UnicodeString& in) {
  icu::UnicodeString out;
  for (std::int32_t i = 0; i < in.length();) {
    UChar32 c = in.char32At(i);
    i += U16_LENGTH(c);
    out.append(u_charType(c) == U_SPACE_SEPARATOR ? UChar32{0x20} : c);
  }
  return out;
}

std::optional<icu::UnicodeString> normalize_nfc(const icu::UnicodeString& in) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString out = nfc()->normalize(in, status);
  if (U_FAILURE(status)) return std::nullopt;
  return out;
}

// RFC 8264 §7: apply the mapping rules until the string is stable, refusing it when three
// further passes after the first have not made it so.
template <typename Map>
std::optional<icu::UnicodeString> map_until_stable(icu::UnicodeString s, Map map) {
  for (int pass = 0; pass < 4; ++pass) {
    auto mapped = map(s);
    if (!mapped) return std::nullopt;
    if (*mapped == s) return s;
    s = std::move(*mapped);
  }
  return std::nullopt;
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

bool icu_ready() { return nfc() != nullptr && nfkc() != nullptr; }

}  // namespace

std::optional<std::string> username_case_mapped(std::string_view utf8) {
  if (utf8.empty() || utf8.size() > kMaxInputBytes) return std::nullopt;
  // ASCII takes a short cut with the same result: printable ASCII is PVALID (RFC 8264
  // §9.11), space and controls are not, width mapping and NFC leave ASCII alone, and no
  // ASCII character is right-to-left.
  bool ascii = true;
  for (char ch : utf8) ascii = ascii && static_cast<unsigned char>(ch) < 0x80;
  if (ascii) {
    std::string out(utf8);
    for (char& ch : out) {
      if (ch < 0x21 || ch > 0x7E) return std::nullopt;
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return out;
  }
  if (!icu_ready()) return std::nullopt;
  auto decoded = decode_utf8(utf8);
  if (!decoded) return std::nullopt;
  auto prepared = map_until_stable(std::move(*decoded), [](const icu::UnicodeString& s) {
    icu::UnicodeString lowered = width_map(s);
    lowered.toLower(icu::Locale::getRoot());  // u_strToLower with the root locale
    return normalize_nfc(lowered);
  });
  if (!prepared || prepared->isEmpty()) return std::nullopt;
  std::u32string cps = code_points(*prepared);
  if (!class_valid(cps, StringClass::identifier) || !bidi_rule_ok(cps)) return std::nullopt;
  return to_utf8(*prepared);
}

std::optional<std::string> opaque_string(std::string_view utf8) {
  if (utf8.empty() || utf8.size() > kMaxInputBytes) return std::nullopt;
  // ASCII short cut: U+0020..U+007E are valid in the FreeformClass, the rest are controls.
  bool ascii = true;
  for (char ch : utf8) ascii = ascii && static_cast<unsigned char>(ch) < 0x80;
  if (ascii) {
    for (char ch : utf8) {
      if (ch < 0x20 || ch > 0x7E) return std::nullopt;
    }
    return std::string(utf8);
  }
  if (!icu_ready()) return std::nullopt;
  auto decoded = decode_utf8(utf8);
  if (!decoded) return std::nullopt;
  auto prepared = map_until_stable(std::move(*decoded), [](const icu::UnicodeString& s) {
    return normalize_nfc(map_spaces(s));
  });
  if (!prepared || prepared->isEmpty()) return std::nullopt;
  if (!class_valid(code_points(*prepared), StringClass::freeform)) return std::nullopt;
  return to_utf8(*prepared);
}

}  // namespace parley::server::precis
