#pragma once
// Thin, exception-free wrappers over OpenSSL 3 for the primitives parley uses: random bytes,
// SHA-1/SHA-256, HMAC, PBKDF2, HKDF, AES-256-GCM, base64 and constant-time comparison.
// Byte strings are std::string (binary-safe). Thread-safe: no shared state.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::server::crypto {

using Bytes = std::string;

/// The hash functions SCRAM uses (RFC 5802, RFC 7677).
enum class Hash { sha1, sha256 };
std::size_t digest_size(Hash hash);

/// Cryptographically secure random bytes (OpenSSL's DRBG). Aborts if the RNG fails:
/// continuing without randomness would be worse.
Bytes random_bytes(std::size_t n);

Bytes digest(Hash hash, std::string_view data);
Bytes hmac(Hash hash, std::string_view key, std::string_view data);
/// PBKDF2 with HMAC-`hash`, output of the hash's size (RFC 5802 Hi()).
Bytes pbkdf2(Hash hash, std::string_view password, std::string_view salt, int iterations);
/// HKDF-SHA-256 (RFC 5869), no salt: derives independent keys from one secret.
Bytes hkdf_sha256(std::string_view secret, std::string_view info, std::size_t length);

/// AES-256-GCM with a fresh random 96-bit nonce. Output: nonce || ciphertext || 16-byte tag.
Bytes seal_aes256gcm(std::string_view key, std::string_view plaintext, std::string_view aad);
/// Inverse of seal_aes256gcm; nullopt when the input was altered, the key or the associated
/// data differ, or the input is too short.
std::optional<Bytes> open_aes256gcm(std::string_view key, std::string_view sealed,
                                    std::string_view aad);

/// Compares in time independent of where the inputs differ (lengths may leak).
bool equal_constant_time(std::string_view a, std::string_view b);

std::string base64_encode(std::string_view data);
/// Strict RFC 4648 base64 (with padding, no whitespace); nullopt on anything else.
std::optional<Bytes> base64_decode(std::string_view text);
std::string hex(std::string_view data);

}  // namespace parley::server::crypto
