#include "server/jid.hpp"

#include <arpa/inet.h>
#include <unicode/bytestream.h>
#include <unicode/idna.h>
#include <unicode/stringpiece.h>

#include <memory>
#include <ostream>

#include "server/precis.hpp"

namespace parley::server {
namespace {

// No PRECIS mapping shrinks a string by more than 3x (a fullwidth letter or a decomposed
// Hangul syllable becomes a third of its bytes); UTS 46 may delete ignorable code points,
// and a part made mostly of those is refused here without processing it in bulk.
constexpr std::size_t kMaxRawPartBytes = 4 * kMaxJidPartBytes;

// ICU documents IDNA's const methods as thread-safe; one instance serves every thread.
// Never freed: it lives until exit, like ICU's own singletons.
const icu::IDNA* uts46() {
  static const icu::IDNA* instance = []() -> const icu::IDNA* {
    UErrorCode status = U_ZERO_ERROR;
    // RFC 7622 §3.2.2: nontransitional processing keeps ß and ς as IDNA2008 does;
    // STD3 rules keep to letters, digits and hyphen; CheckBidi and CheckJoiners are
    // IDNA2008's RFC 5893 and CONTEXTJ rules, and CONTEXTO completes IDNA2008's checks.
    std::unique_ptr<icu::IDNA> idna(icu::IDNA::createUTS46Instance(
        UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_NONTRANSITIONAL_TO_UNICODE | UIDNA_CHECK_BIDI |
            UIDNA_CHECK_CONTEXTJ | UIDNA_CHECK_CONTEXTO | UIDNA_USE_STD3_RULES,
        status));
    if (U_FAILURE(status)) return nullptr;
    return idna.release();
  }();
  return instance;
}

// inet_pton reads a C string: a NUL would end the address early and let whatever follows
// it into the domainpart unchecked.
bool is_ipv4(std::string_view s) {
  if (s.size() > 15 || s.find('\0') != std::string_view::npos) return false;
  std::string text(s);
  in_addr addr{};
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

// RFC 7622 §3.2: "IP-literal" of RFC 3986 §3.2.2, for IPv6 only (no IPvFuture).
bool is_bracketed_ipv6(std::string_view s) {
  if (s.size() < 3 || s.size() > 47 || s.front() != '[' || s.back() != ']' ||
      s.find('\0') != std::string_view::npos) {
    return false;
  }
  std::string text(s.substr(1, s.size() - 2));
  in6_addr addr{};
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

bool last_label_numeric(std::string_view domain) {
  std::size_t dot = domain.rfind('.');
  std::string_view last = dot == std::string_view::npos ? domain : domain.substr(dot + 1);
  if (last.empty()) return false;
  for (char c : last) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool fits(std::string_view prepared) {
  return !prepared.empty() && prepared.size() <= kMaxJidPartBytes;
}

}  // namespace

std::optional<std::string> normalize_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > kMaxRawPartBytes) return std::nullopt;
  // RFC 7622 §3.2: IP addresses are domainparts as they are. A trailing dot is stripped
  // from them as from names (RFC 7622 §3.2: "this character MUST be stripped").
  std::string_view literal = domain;
  if (literal.back() == '.') literal.remove_suffix(1);
  if (is_ipv4(literal) || is_bracketed_ipv6(literal)) return std::string(literal);

  const icu::IDNA* idna = uts46();
  if (idna == nullptr) return std::nullopt;
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  icu::IDNAInfo info;
  UErrorCode status = U_ZERO_ERROR;
  idna->nameToUnicodeUTF8(icu::StringPiece(domain.data(), static_cast<int32_t>(domain.size())),
                          sink, info, status);
  if (U_FAILURE(status) || info.hasErrors()) return std::nullopt;
  // The separator may have come from a mapped U+3002 or U+FF0E: strip after mapping.
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (!fits(out) || out.front() == '.' || last_label_numeric(out)) return std::nullopt;
  return out;
}

std::optional<std::string> normalize_localpart(std::string_view local) {
  if (local.empty() || local.size() > kMaxRawPartBytes) return std::nullopt;
  auto prepared = precis::username_case_mapped(local);
  if (!prepared || !fits(*prepared)) return std::nullopt;
  // RFC 7622 §3.3.1: characters excluded from localparts on top of the PRECIS profile.
  if (prepared->find_first_of("\"&'/:<>@") != std::string::npos) return std::nullopt;
  return prepared;
}

std::optional<std::string> normalize_resourcepart(std::string_view resource) {
  if (resource.empty() || resource.size() > kMaxRawPartBytes) return std::nullopt;
  auto prepared = precis::opaque_string(resource);
  if (!prepared || !fits(*prepared)) return std::nullopt;
  return prepared;
}

std::optional<Jid> Jid::assemble(std::optional<std::string_view> local, std::string_view domain,
                                 std::optional<std::string_view> resource) {
  std::optional<std::string> l;
  if (local) {
    l = normalize_localpart(*local);
    if (!l) return std::nullopt;
  }
  auto d = normalize_domain(domain);
  if (!d) return std::nullopt;
  std::optional<std::string> r;
  if (resource) {
    r = normalize_resourcepart(*resource);
    if (!r) return std::nullopt;
  }
  std::string full;
  full.reserve((l ? l->size() + 1 : 0) + d->size() + (r ? r->size() + 1 : 0));
  if (l) full.append(*l).push_back('@');
  full.append(*d);
  if (r) full.append(1, '/').append(*r);
  return Jid(std::move(full), static_cast<std::uint16_t>(l ? l->size() : 0),
             static_cast<std::uint16_t>(d->size()));
}

std::optional<Jid> Jid::parse(std::string_view text) {
  // RFC 7622 §3.1: the resourcepart starts after the first '/', then the localpart ends
  // at the first '@' of what remains. A separator makes its part present, even if empty,
  // so "juliet@" and "example.com/" fail in the preparation of that empty part.
  std::optional<std::string_view> resource;
  std::string_view head = text;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    resource = text.substr(slash + 1);
    head = text.substr(0, slash);
  }
  std::optional<std::string_view> local;
  if (auto at = head.find('@'); at != std::string_view::npos) {
    local = head.substr(0, at);
    head = head.substr(at + 1);
  }
  return assemble(local, head, resource);
}

std::optional<Jid> Jid::make(std::string_view local, std::string_view domain,
                             std::string_view resource) {
  return assemble(local.empty() ? std::nullopt : std::optional<std::string_view>(local), domain,
                  resource.empty() ? std::nullopt : std::optional<std::string_view>(resource));
}

Jid Jid::bare() const {
  return Jid(full_.substr(0, domain_begin() + domain_len_), local_len_, domain_len_);
}

std::optional<Jid> Jid::with_resource(std::string_view resource) const {
  auto r = normalize_resourcepart(resource);
  if (!r) return std::nullopt;
  std::string full = full_.substr(0, domain_begin() + domain_len_);
  full.append(1, '/').append(*r);
  return Jid(std::move(full), local_len_, domain_len_);
}

std::ostream& operator<<(std::ostream& out, const Jid& jid) { return out << jid.full(); }

}  // namespace parley::server
