#pragma once
// PRECIS string preparation and enforcement (RFC 8264) for the two profiles XMPP needs
// (RFC 8265): UsernameCaseMapped for localparts and account names, OpaqueString for
// resourceparts and passwords. Built on ICU's character properties and normalisers only;
// no hand-made Unicode tables (the Unicode version is ICU's: 15.0 with ICU 72).
//
// Thread-safety: every function here is pure and may be called from any thread at once
// (ICU's normaliser singletons and property look-ups are immutable once loaded).
// Nothing throws except std::bad_alloc.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

/// PRECIS profiles (RFC 8264, RFC 8265). Free functions only; see the file comment for
/// thread-safety.
namespace parley::server::precis {

/// Inputs longer than this many bytes are refused before any work is done. Far above
/// anything XMPP uses (a JID part is at most 1023 bytes, RFC 7622 §3.1).
inline constexpr std::size_t kMaxInputBytes = 64 * 1024;

/// Enforces the UsernameCaseMapped profile (RFC 8265 §3.3) and returns the prepared string,
/// or nullopt if `utf8` is not valid UTF-8, is too long, is empty, or is refused by the
/// profile. Steps, in the order of RFC 8264 §7, repeated until the string is stable (at
/// most four passes, after which it is refused):
///   1. width mapping: fullwidth and halfwidth code points to their <wide>/<narrow>
///      decomposition (RFC 8265 §3.3.1 rule 1);
///   2. case mapping: Unicode toLower with the root locale (rule 3);
///   3. normalisation: NFC (rule 4);
/// then every code point must be valid in the IdentifierClass (RFC 8264 §4.2): PVALID, or
/// CONTEXTJ/CONTEXTO with its RFC 5892 Appendix A rule satisfied; and if the string holds a
/// right-to-left code point (bidi class R, AL or AN) it must satisfy the Bidi Rule of
/// RFC 5893 §2 (rule 5). The result is never empty.
/// Note: '@', '/', ':' and the like are valid here; RFC 7622 §3.3.1 forbids some of them in
/// a JID localpart, which Jid checks on top of this profile.
std::optional<std::string> username_case_mapped(std::string_view utf8);

/// Enforces the OpaqueString profile (RFC 8265 §4.2), used for passwords and JID
/// resourceparts; nullopt if `utf8` is not valid UTF-8, is too long, is empty, or is
/// refused. Steps: non-ASCII spaces (general category Zs) map to U+0020 (§4.2.1 rule 2);
/// no width or case mapping; NFC (rule 4); then every code point must be valid in the
/// FreeformClass (RFC 8264 §4.3): PVALID, FREE_PVAL (spaces, symbols, punctuation,
/// compatibility characters, other letters and digits), or CONTEXTJ/CONTEXTO with its rule
/// satisfied. Controls, default-ignorable code points, noncharacters, private-use, old
/// Hangul jamo and unassigned code points are refused. Case and width are preserved.
std::optional<std::string> opaque_string(std::string_view utf8);

}  // namespace parley::server::precis
