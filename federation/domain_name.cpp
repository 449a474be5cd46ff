#include "federation/domain_name.hpp"

#include <arpa/inet.h>
#include <unicode/bytestream.h>
#include <unicode/idna.h>
#include <unicode/stringpiece.h>

#include <algorithm>
#include <memory>

#include "server/jid.hpp"

namespace parley::federation {
namespace {

// The same UTS 46 options as server/jid.cpp (RFC 7622 §3.2.2), so that a name that is a
// valid domainpart there converts here. Never freed, like ICU's own singletons.
const icu::IDNA* uts46() {
  static const icu::IDNA* instance = []() -> const icu::IDNA* {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::IDNA> idna(icu::IDNA::createUTS46Instance(
        UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_NONTRANSITIONAL_TO_UNICODE | UIDNA_CHECK_BIDI |
            UIDNA_CHECK_CONTEXTJ | UIDNA_CHECK_CONTEXTO | UIDNA_USE_STD3_RULES,
        status));
    if (U_FAILURE(status)) return nullptr;
    return idna.release();
  }();
  return instance;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

bool is_ip_literal(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.size() >= 3 && domain.front() == '[' && domain.back() == ']') {
    std::string text(domain.substr(1, domain.size() - 2));
    in6_addr addr{};
    return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
  }
  if (domain.empty() || domain.size() > 15) return false;
  std::string text(domain);
  in_addr addr{};
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

std::optional<std::string> to_ascii_domain(std::string_view domain) {
  // normalize_domain validates (IDNA2008 via UTS 46), maps (lower case) and turns A-labels
  // into U-labels; converting its result back gives the one canonical A-label form.
  std::optional<std::string> prepared = server::normalize_domain(domain);
  if (!prepared) return std::nullopt;
  if (is_ascii(*prepared)) return prepared;
  const icu::IDNA* idna = uts46();
  if (idna == nullptr) return std::nullopt;
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  icu::IDNAInfo info;
  UErrorCode status = U_ZERO_ERROR;
  idna->nameToASCII_UTF8(
      icu::StringPiece(prepared->data(), static_cast<int32_t>(prepared->size())), sink, info,
      status);
  if (U_FAILURE(status) || info.hasErrors() || out.empty() || !is_ascii(out)) return std::nullopt;
  return out;
}

}  // namespace parley::federation
