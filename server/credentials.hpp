#pragma once
// SCRAM credentials (RFC 5802 §3, RFC 7677) and how they are kept at rest.
//
// The password is never stored: only the salt, the iteration count, and StoredKey and
// ServerKey, which are sealed with AES-256-GCM under a key derived from the server secret.
// The associated data binds each sealed pair to the account's bare JID, the mechanism, the
// salt and the iteration count: a row copied onto another account, or with a lowered
// iteration count, fails to open.
//
// For an account that does not exist, fake_salt() gives a salt derived from the server
// secret and the JID: stable across restarts and the same size as a real one, so a SCRAM
// exchange cannot tell a missing account from a wrong password.
//
// CredentialVault is immutable after construction; safe to share between threads.

#include <optional>
#include <string>
#include <string_view>

#include "server/crypto.hpp"
#include "server/server_secret.hpp"

namespace parley::server {

/// "SCRAM-SHA-1" or "SCRAM-SHA-256".
std::string_view scram_mechanism_name(crypto::Hash hash);

struct ScramKeys {
  crypto::Bytes stored_key;  ///< H(ClientKey)
  crypto::Bytes server_key;  ///< HMAC(SaltedPassword, "Server Key")
};

struct ScramCredential {
  crypto::Hash hash;
  crypto::Bytes salt;
  int iterations;
  ScramKeys keys;
};

/// What a SCRAM exchange needs to know about an account, real or not.
struct ScramLookup {
  crypto::Bytes salt;
  int iterations = 0;
  /// nullopt when the account does not exist (salt and iterations are then the fake ones)
  /// or its keys cannot be opened; authentication must then fail like a wrong password.
  std::optional<ScramKeys> keys;
};

/// Salt size for new credentials (and fake salts): RFC 7677 asks for at least 16 bytes.
inline constexpr std::size_t kScramSaltSize = 16;

/// Computes a credential from a password already prepared with the OpaqueString profile
/// (RFC 8265 §4.2) and a salt; a fresh random salt when `salt` is empty.
ScramCredential derive_scram_credential(crypto::Hash hash, std::string_view prepared_password,
                                        int iterations, crypto::Bytes salt = {});

class CredentialVault {
 public:
  explicit CredentialVault(const ServerSecret& secret);
  ~CredentialVault();

  /// Seals StoredKey || ServerKey for storage under `bare_jid`.
  crypto::Bytes seal(const ScramCredential& credential, std::string_view bare_jid) const;

  /// Opens what seal() produced; nullopt if anything it is bound to differs or was altered.
  std::optional<ScramKeys> open(crypto::Hash hash, std::string_view bare_jid,
                                std::string_view salt, int iterations,
                                std::string_view sealed) const;

  /// The salt shown for a JID that has no account (kScramSaltSize bytes).
  crypto::Bytes fake_salt(crypto::Hash hash, std::string_view bare_jid) const;

 private:
  std::string seal_key_;
  std::string fake_salt_key_;
};

}  // namespace parley::server
