#include "federation/dialback_key.hpp"

#include <openssl/crypto.h>

#include "server/crypto.hpp"

namespace parley::federation {

namespace crypto = server::crypto;

std::string dialback_key(std::string_view secret, std::string_view receiving,
                         std::string_view originating, std::string_view stream_id) {
  // XEP-0185 §2, notes 2 and 4: the secret is hashed first and used in hex as the HMAC key.
  std::string hmac_key = crypto::hex(crypto::digest(crypto::Hash::sha256, secret));
  std::string data;
  data.reserve(receiving.size() + originating.size() + stream_id.size() + 2);
  data.append(receiving).append(" ").append(originating).append(" ").append(stream_id);
  std::string key = crypto::hex(crypto::hmac(crypto::Hash::sha256, hmac_key, data));
  OPENSSL_cleanse(hmac_key.data(), hmac_key.size());
  return key;
}

DialbackKeys::DialbackKeys(const server::ServerSecret& secret)
    : secret_(secret.derive(kPurpose)) {}

DialbackKeys::~DialbackKeys() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

std::string DialbackKeys::generate(std::string_view receiving, std::string_view originating,
                                   std::string_view stream_id) const {
  return dialback_key(secret_, receiving, originating, stream_id);
}

bool DialbackKeys::verify(std::string_view receiving, std::string_view originating,
                          std::string_view stream_id, std::string_view key) const {
  if (receiving.empty() || originating.empty() || stream_id.empty()) return false;
  // The key arrives as XML character data, possibly indented (XEP-0185's examples are).
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t begin = key.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return false;
  key = key.substr(begin, key.find_last_not_of(kSpace) - begin + 1);
  return crypto::equal_constant_time(generate(receiving, originating, stream_id), key);
}

}  // namespace parley::federation
