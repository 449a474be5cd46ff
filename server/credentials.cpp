#include "server/credentials.hpp"

#include <openssl/crypto.h>

namespace parley::server {
namespace {

// The associated data for one sealed credential. Version first, so a future format can
// coexist; each field is length-prefixed so no two different tuples encode the same.
std::string associated_data(crypto::Hash hash, std::string_view bare_jid, std::string_view salt,
                            int iterations) {
  std::string aad = "parley-scram-v1";
  auto field = [&aad](std::string_view v) {
    auto n = static_cast<std::uint32_t>(v.size());
    for (int shift = 24; shift >= 0; shift -= 8) aad += static_cast<char>((n >> shift) & 0xff);
    aad.append(v);
  };
  field(scram_mechanism_name(hash));
  field(bare_jid);
  field(salt);
  field(std::to_string(iterations));
  return aad;
}

}  // namespace

std::string_view scram_mechanism_name(crypto::Hash hash) {
  return hash == crypto::Hash::sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

ScramCredential derive_scram_credential(crypto::Hash hash, std::string_view prepared_password,
                                        int iterations, crypto::Bytes salt) {
  if (salt.empty()) salt = crypto::random_bytes(kScramSaltSize);
  // RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i)
  crypto::Bytes salted = crypto::pbkdf2(hash, prepared_password, salt, iterations);
  crypto::Bytes client_key = crypto::hmac(hash, salted, "Client Key");
  ScramCredential c{hash, std::move(salt), iterations,
                    {crypto::digest(hash, client_key), crypto::hmac(hash, salted, "Server Key")}};
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return c;
}

CredentialVault::CredentialVault(const ServerSecret& secret)
    : seal_key_(secret.derive("parley scram-keys aes-256-gcm v1")),
      fake_salt_key_(secret.derive("parley scram fake-salt v1")) {}

CredentialVault::~CredentialVault() {
  OPENSSL_cleanse(seal_key_.data(), seal_key_.size());
  OPENSSL_cleanse(fake_salt_key_.data(), fake_salt_key_.size());
}

crypto::Bytes CredentialVault::seal(const ScramCredential& c, std::string_view bare_jid) const {
  std::string plain = c.keys.stored_key + c.keys.server_key;
  auto sealed = crypto::seal_aes256gcm(
      seal_key_, plain, associated_data(c.hash, bare_jid, c.salt, c.iterations));
  OPENSSL_cleanse(plain.data(), plain.size());
  return sealed;
}

std::optional<ScramKeys> CredentialVault::open(crypto::Hash hash, std::string_view bare_jid,
                                               std::string_view salt, int iterations,
                                               std::string_view sealed) const {
  auto plain = crypto::open_aes256gcm(seal_key_, sealed,
                                      associated_data(hash, bare_jid, salt, iterations));
  std::size_t n = crypto::digest_size(hash);
  if (!plain || plain->size() != 2 * n) return std::nullopt;
  ScramKeys keys{plain->substr(0, n), plain->substr(n)};
  OPENSSL_cleanse(plain->data(), plain->size());
  return keys;
}

crypto::Bytes CredentialVault::fake_salt(crypto::Hash hash, std::string_view bare_jid) const {
  std::string input(scram_mechanism_name(hash));
  input += '\0';
  input.append(bare_jid);
  return crypto::hmac(crypto::Hash::sha256, fake_salt_key_, input).substr(0, kScramSaltSize);
}

}  // namespace parley::server
