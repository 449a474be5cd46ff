// libFuzzer target: JIDs (server/jid.hpp, RFC 7622) and the PRECIS profiles under them
// (server/precis.hpp, RFC 8264/8265).
//
// Input: the text of a JID, as Jid::parse() gets it from a 'to' or 'from' attribute. When
// it contains NUL bytes, the pieces between them are also given to Jid::make() as
// localpart, domainpart and resourcepart.
//
// What it asserts:
// - parsing never throws and a Jid that exists is prepared: each part is 1..1023 bytes
//   (RFC 7622 §3.1), the localpart has none of " & ' / : < > @ (§3.3.1), the domainpart no
//   '@' or '/';
// - the canonical form is stable: Jid::parse(full()) and Jid::make(parts) give an equal
//   Jid, bare() and with_resource() agree with it, and each part is a fixed point of its
//   normalize_* function;
// - the PRECIS profiles are idempotent (RFC 8264 §7: applying the rules again changes
//   nothing), never return an empty string, and return valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unicode/utf8.h>

#include "server/jid.hpp"
#include "server/precis.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using parley::server::Jid;
using parley::server::kMaxJidPartBytes;
namespace server = parley::server;
namespace precis = parley::server::precis;

bool valid_utf8(std::string_view s) {
  std::int32_t i = 0;
  const auto n = static_cast<std::int32_t>(s.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const std::uint8_t*>(s.data()), i, n, c);
    if (c < 0) return false;
  }
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += char(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

void check_profile(const char* name, std::optional<std::string> (*profile)(std::string_view),
                   std::string_view input) {
  auto once = profile(input);
  if (!once) return;
  FUZZ_CHECK(!once->empty(), "%s returned an empty string for '%s'", name, printable(input).c_str());
  FUZZ_CHECK(valid_utf8(*once), "%s returned invalid UTF-8 for '%s'", name, printable(input).c_str());
  auto twice = profile(*once);
  FUZZ_CHECK(twice && *twice == *once, "%s is not idempotent: '%s' -> '%s' -> %s", name,
             printable(input).c_str(), printable(*once).c_str(),
             twice ? ("'" + printable(*twice) + "'").c_str() : "refused");
}

void check_fixed_point(const char* name, std::optional<std::string> (*normalize)(std::string_view),
                       std::string_view part) {
  auto again = normalize(part);
  FUZZ_CHECK(again && *again == part, "%s('%s') gives %s", name, printable(part).c_str(),
             again ? ("'" + printable(*again) + "'").c_str() : "nothing");
}

void check_jid(const Jid& jid, std::string_view source) {
  const std::string src = printable(source);
  const std::string_view local = jid.local(), domain = jid.domain(), resource = jid.resource();
  FUZZ_CHECK(!domain.empty() && domain.size() <= kMaxJidPartBytes, "domainpart of %zu bytes from '%s'",
             domain.size(), src.c_str());
  FUZZ_CHECK(local.size() <= kMaxJidPartBytes && resource.size() <= kMaxJidPartBytes,
             "a part over 1023 bytes from '%s'", src.c_str());
  FUZZ_CHECK(jid.has_local() == !local.empty() && jid.is_bare() == resource.empty(),
             "has_local()/is_bare() disagree with the parts of '%s'", src.c_str());
  FUZZ_CHECK(local.find_first_of("\"&'/:<>@") == std::string_view::npos,
             "localpart '%s' has a character RFC 7622 §3.3.1 excludes", printable(local).c_str());
  FUZZ_CHECK(domain.find_first_of("@/") == std::string_view::npos, "domainpart '%s' has '@' or '/'",
             printable(domain).c_str());
  FUZZ_CHECK(valid_utf8(jid.full()), "full() is not UTF-8 for '%s'", src.c_str());

  std::string expected;
  if (!local.empty()) expected.append(local).push_back('@');
  expected.append(domain);
  if (!resource.empty()) expected.append(1, '/').append(resource);
  FUZZ_CHECK(jid.full() == expected, "full() '%s' is not its parts", printable(jid.full()).c_str());

  auto again = Jid::parse(jid.full());
  FUZZ_CHECK(again && *again == jid, "'%s' parsed to '%s', which parses to %s", src.c_str(),
             printable(jid.full()).c_str(), again ? ("'" + printable(again->full()) + "'").c_str() : "nothing");
  auto made = Jid::make(local, domain, resource);
  FUZZ_CHECK(made && *made == jid, "make() of the parts of '%s' differs", printable(jid.full()).c_str());

  const Jid bare = jid.bare();
  FUZZ_CHECK(bare.is_bare() && bare.local() == local && bare.domain() == domain, "bare() of '%s'",
             printable(jid.full()).c_str());
  if (!resource.empty()) {
    auto full = bare.with_resource(resource);
    FUZZ_CHECK(full && *full == jid, "bare().with_resource() of '%s' differs", printable(jid.full()).c_str());
  }

  if (!local.empty()) check_fixed_point("normalize_localpart", server::normalize_localpart, local);
  check_fixed_point("normalize_domain", server::normalize_domain, domain);
  if (!resource.empty()) check_fixed_point("normalize_resourcepart", server::normalize_resourcepart, resource);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto jid = Jid::parse(text)) check_jid(*jid, text);

  check_profile("username_case_mapped", precis::username_case_mapped, text);
  check_profile("opaque_string", precis::opaque_string, text);
  check_profile("normalize_domain", server::normalize_domain, text);

  if (text.find('\0') != std::string_view::npos) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      const std::size_t nul = text.find('\0', start);
      parts.push_back(text.substr(start, nul == std::string_view::npos ? nul : nul - start));
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
    parts.resize(3);
    if (auto jid = Jid::make(parts[0], parts[1], parts[2])) check_jid(*jid, text);
  }
  return 0;
}
