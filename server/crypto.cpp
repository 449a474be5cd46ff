#include "server/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>

namespace parley::server::crypto {
namespace {

const EVP_MD* md(Hash hash) { return hash == Hash::sha1 ? EVP_sha1() : EVP_sha256(); }

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* u8(Bytes& s) { return reinterpret_cast<unsigned char*>(s.data()); }

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

}  // namespace

std::size_t digest_size(Hash hash) { return hash == Hash::sha1 ? 20 : 32; }

Bytes random_bytes(std::size_t n) {
  Bytes out(n, '\0');
  if (n > 0 && RAND_bytes(u8(out), static_cast<int>(n)) != 1) std::abort();
  return out;
}

Bytes digest(Hash hash, std::string_view data) {
  Bytes out(digest_size(hash), '\0');
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), u8(out), &len, md(hash), nullptr);
  return out;
}

Bytes hmac(Hash hash, std::string_view key, std::string_view data) {
  Bytes out(digest_size(hash), '\0');
  unsigned int len = 0;
  HMAC(md(hash), key.data(), static_cast<int>(key.size()), u8(data), data.size(), u8(out), &len);
  return out;
}

Bytes pbkdf2(Hash hash, std::string_view password, std::string_view salt, int iterations) {
  Bytes out(digest_size(hash), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), u8(salt),
                    static_cast<int>(salt.size()), iterations, md(hash),
                    static_cast<int>(out.size()), u8(out));
  return out;
}

Bytes hkdf_sha256(std::string_view secret, std::string_view info, std::size_t length) {
  Bytes out(length, '\0');
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  std::size_t len = length;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), u8(secret), static_cast<int>(secret.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), u8(info), static_cast<int>(info.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), u8(out), &len) <= 0) {
    std::abort();  // only fails on allocation failure or a broken OpenSSL
  }
  return out;
}

Bytes seal_aes256gcm(std::string_view key, std::string_view plaintext, std::string_view aad) {
  Bytes out = random_bytes(kNonce);
  out.resize(kNonce + plaintext.size() + kTag);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || key.size() != 32 ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key), u8(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), u8(out) + kNonce, &len, u8(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), u8(out) + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          u8(out) + kNonce + plaintext.size()) != 1) {
    std::abort();
  }
  return out;
}

std::optional<Bytes> open_aes256gcm(std::string_view key, std::string_view sealed,
                                    std::string_view aad) {
  if (key.size() != 32 || sealed.size() < kNonce + kTag) return std::nullopt;
  std::string_view nonce = sealed.substr(0, kNonce);
  std::string_view body = sealed.substr(kNonce, sealed.size() - kNonce - kTag);
  Bytes tag(sealed.substr(sealed.size() - kTag));
  Bytes out(body.size(), '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key), u8(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), u8(out), &len, u8(body), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, u8(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), u8(out) + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(u8(out), u8(data), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool pad_ok = c == '=' && i >= text.size() - 2 && (i == text.size() - 1 || text.back() == '=');
    if (!alnum && c != '+' && c != '/' && !pad_ok) return std::nullopt;
  }
  Bytes out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(u8(out), u8(text), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string hex(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace parley::server::crypto
