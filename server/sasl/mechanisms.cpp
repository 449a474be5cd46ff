#include "server/sasl/mechanisms.hpp"

#include <array>
#include <utility>

namespace parley::server::sasl {
namespace {

constexpr std::array<std::pair<Mechanism, std::string_view>, 5> kNames{{
    {Mechanism::scram_sha_256_plus, "SCRAM-SHA-256-PLUS"},
    {Mechanism::scram_sha_1_plus, "SCRAM-SHA-1-PLUS"},
    {Mechanism::scram_sha_256, "SCRAM-SHA-256"},
    {Mechanism::scram_sha_1, "SCRAM-SHA-1"},
    {Mechanism::plain, "PLAIN"},
}};

}  // namespace

std::string_view failure_condition(SaslFailure failure) {
  switch (failure) {
    case SaslFailure::aborted: return "aborted";
    case SaslFailure::account_disabled: return "account-disabled";
    case SaslFailure::credentials_expired: return "credentials-expired";
    case SaslFailure::encryption_required: return "encryption-required";
    case SaslFailure::incorrect_encoding: return "incorrect-encoding";
    case SaslFailure::invalid_authzid: return "invalid-authzid";
    case SaslFailure::invalid_mechanism: return "invalid-mechanism";
    case SaslFailure::malformed_request: return "malformed-request";
    case SaslFailure::mechanism_too_weak: return "mechanism-too-weak";
    case SaslFailure::not_authorized: return "not-authorized";
    case SaslFailure::temporary_auth_failure: return "temporary-auth-failure";
  }
  return "not-authorized";  // unreachable with a valid enumerator
}

std::string_view name(Mechanism mechanism) {
  for (const auto& [m, n] : kNames) {
    if (m == mechanism) return n;
  }
  return {};
}

std::optional<Mechanism> mechanism_from_name(std::string_view text) {
  for (const auto& [m, n] : kNames) {
    if (n == text) return m;
  }
  return std::nullopt;
}

std::optional<crypto::Hash> scram_hash(Mechanism mechanism) {
  switch (mechanism) {
    case Mechanism::scram_sha_256_plus:
    case Mechanism::scram_sha_256: return crypto::Hash::sha256;
    case Mechanism::scram_sha_1_plus:
    case Mechanism::scram_sha_1: return crypto::Hash::sha1;
    case Mechanism::plain: break;
  }
  return std::nullopt;
}

bool is_plus(Mechanism mechanism) {
  return mechanism == Mechanism::scram_sha_256_plus || mechanism == Mechanism::scram_sha_1_plus;
}

std::vector<Mechanism> offered(bool tls_active, bool channel_binding_available) {
  std::vector<Mechanism> out;
  if (tls_active && channel_binding_available) {
    out.push_back(Mechanism::scram_sha_256_plus);
    out.push_back(Mechanism::scram_sha_1_plus);
  }
  out.push_back(Mechanism::scram_sha_256);
  out.push_back(Mechanism::scram_sha_1);
  if (tls_active) out.push_back(Mechanism::plain);
  return out;
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 §4: the lead byte fixes the length and the range of the first continuation
    // byte, which is what excludes overlong forms, surrogates and code points > U+10FFFF.
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto b = static_cast<unsigned char>(text[i + k]);
      if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace parley::server::sasl
