#include "server/net/tls13_records.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace parley::server::net {
namespace {

constexpr std::size_t kTag = 16;  // every suite here has a 16-byte tag

struct Suite {
  std::uint16_t id;
  const char* cipher;
  const char* digest;
  std::size_t hash_len;
  std::size_t key_len;
};

constexpr Suite kSuites[] = {
    {0x1301, "AES-128-GCM", "SHA256", 32, 16},
    {0x1302, "AES-256-GCM", "SHA384", 48, 32},
    {0x1303, "ChaCha20-Poly1305", "SHA256", 32, 32},
};

const Suite* find_suite(std::uint16_t id) {
  for (const auto& s : kSuites) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// Fetched once: an implicit fetch on every record would look the provider up each time.
const EVP_CIPHER* cipher_of(std::uint16_t id) {
  static EVP_CIPHER* const ciphers[] = {
      EVP_CIPHER_fetch(nullptr, kSuites[0].cipher, nullptr),
      EVP_CIPHER_fetch(nullptr, kSuites[1].cipher, nullptr),
      EVP_CIPHER_fetch(nullptr, kSuites[2].cipher, nullptr),
  };
  return ciphers[id - 0x1301];
}

const EVP_MD* digest_of(std::uint16_t id) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return id == 0x1302 ? sha384 : sha256;
}

// One cipher context per thread, initialised afresh for every record.
EVP_CIPHER_CTX* thread_cipher_context() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  static thread_local Holder holder;
  if (holder.ctx == nullptr) throw std::bad_alloc();
  return holder.ctx;
}

// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1). Every length asked for here
// is at most the hash's, so HKDF-Expand (RFC 5869 §2.3) is its first block: HMAC(secret,
// HkdfLabel || 0x01).
void expand_label(std::uint16_t suite, const unsigned char* secret, std::size_t secret_len,
                  std::string_view label, unsigned char* out, std::size_t length) {
  unsigned char info[2 + 1 + 6 + 16 + 1 + 1];
  std::size_t n = 0;
  info[n++] = static_cast<unsigned char>(length >> 8);
  info[n++] = static_cast<unsigned char>(length);
  info[n++] = static_cast<unsigned char>(6 + label.size());
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0;  // empty context
  info[n++] = 1;  // HKDF-Expand's block counter
  unsigned char block[EVP_MAX_MD_SIZE];
  unsigned int block_len = 0;
  if (HMAC(digest_of(suite), secret, static_cast<int>(secret_len), info, n, block, &block_len) == nullptr ||
      block_len < length) {
    throw std::runtime_error("TLS 1.3 key derivation failed");
  }
  std::memcpy(out, block, length);
  OPENSSL_cleanse(block, sizeof block);
}

// Runs the AEAD over `in` (len bytes) into `out`; false when a tag does not verify.
bool aead(std::uint16_t suite, bool encrypt, const unsigned char* key, const unsigned char* nonce,
          const unsigned char* aad, const unsigned char* in, std::size_t len, unsigned char* out,
          unsigned char* tag) {
  EVP_CIPHER_CTX* ctx = thread_cipher_context();
  int n = 0;
  bool ok = EVP_CipherInit_ex2(ctx, cipher_of(suite), key, nonce, encrypt ? 1 : 0, nullptr) == 1 &&
            EVP_CipherUpdate(ctx, nullptr, &n, aad, static_cast<int>(Tls13Records::kHeader)) == 1 &&
            (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1);
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, tag) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx, out + len, &n) == 1;
  if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, tag) == 1;
  return ok;
}

}  // namespace

bool Tls13Records::supported(std::uint16_t suite) {
  return find_suite(suite) != nullptr && cipher_of(suite) != nullptr;
}

Tls13Records::Tls13Records(std::uint16_t suite, std::string_view in_secret, std::uint64_t in_seq,
                           std::string_view out_secret, std::uint64_t out_seq, std::uint64_t update_after)
    : suite_(suite), update_after_(update_after) {
  const Suite* s = find_suite(suite);
  if (s == nullptr || in_secret.size() != s->hash_len || out_secret.size() != s->hash_len) {
    throw std::invalid_argument("TLS 1.3 record layer: unsupported suite or secret size");
  }
  hash_len_ = s->hash_len;
  key_len_ = s->key_len;
  set(in_, in_secret, in_seq);
  set(out_, out_secret, out_seq);
}

Tls13Records::~Tls13Records() {
  OPENSSL_cleanse(&in_, sizeof in_);
  OPENSSL_cleanse(&out_, sizeof out_);
}

// §7.3: [sender]_write_key = HKDF-Expand-Label(Secret, "key", "", key_length), and the IV.
void Tls13Records::set(Direction& d, std::string_view secret, std::uint64_t seq) {
  std::memcpy(d.secret.data(), secret.data(), hash_len_);
  expand_label(suite_, d.secret.data(), hash_len_, "key", d.key.data(), key_len_);
  expand_label(suite_, d.secret.data(), hash_len_, "iv", d.iv.data(), d.iv.size());
  d.seq = seq;
}

// §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
void Tls13Records::next(Direction& d) {
  std::array<unsigned char, 48> secret{};
  expand_label(suite_, d.secret.data(), hash_len_, "traffic upd", secret.data(), hash_len_);
  set(d, std::string_view(reinterpret_cast<const char*>(secret.data()), hash_len_), 0);
  OPENSSL_cleanse(secret.data(), secret.size());
}

void Tls13Records::update_in() { next(in_); }
void Tls13Records::update_out() { next(out_); }

// §5.3: the sequence number, big-endian and left-padded to the IV's length, XORed with the IV.
std::array<unsigned char, 12> Tls13Records::nonce(const Direction& d) const {
  auto n = d.iv;
  for (int i = 0; i < 8; ++i) n[11 - i] ^= static_cast<unsigned char>(d.seq >> (8 * i));
  return n;
}

void Tls13Records::seal(RecordType type, std::string_view content, std::string& out) {
  if (content.size() > kMaxContent) throw std::length_error("TLS record content over 2^14 bytes");
  // TLSInnerPlaintext: content || type, no padding. The header is the associated data.
  std::size_t inner = content.size() + 1;
  std::size_t length = inner + kTag;
  std::size_t at = out.size();
  out.resize(at + kHeader + length);
  auto* p = reinterpret_cast<unsigned char*>(out.data() + at);
  p[0] = static_cast<unsigned char>(RecordType::application_data);
  p[1] = 0x03;
  p[2] = 0x03;
  p[3] = static_cast<unsigned char>(length >> 8);
  p[4] = static_cast<unsigned char>(length);
  std::memcpy(p + kHeader, content.data(), content.size());
  p[kHeader + content.size()] = static_cast<unsigned char>(type);
  auto iv = nonce(out_);
  if (!aead(suite_, true, out_.key.data(), iv.data(), p, p + kHeader, inner, p + kHeader, p + kHeader + inner)) {
    throw std::runtime_error("TLS record encryption failed");
  }
  ++out_.seq;
}

std::size_t Tls13Records::record_size(std::string_view data) {
  if (data.size() < kHeader) return 0;
  auto length = static_cast<std::size_t>(static_cast<unsigned char>(data[3])) << 8 |
                static_cast<unsigned char>(data[4]);
  return kHeader + length;
}

Tls13Records::Opened Tls13Records::open(char* record, std::size_t size, RecordType& type, std::string_view& content) {
  auto* p = reinterpret_cast<unsigned char*>(record);
  // After the handshake every record is protected and says application_data outside
  // (§5.1: a ChangeCipherSpec now is an unexpected_message); the version is ignored.
  if (p[0] != static_cast<unsigned char>(RecordType::application_data)) return Opened::unexpected_message;
  if (size > kMaxRecord) return Opened::record_overflow;
  if (size < kHeader + 1 + kTag) return Opened::bad_record_mac;
  std::size_t len = size - kHeader - kTag;
  auto iv = nonce(in_);
  if (!aead(suite_, false, in_.key.data(), iv.data(), p, p + kHeader, len, p + kHeader, p + kHeader + len)) {
    return Opened::bad_record_mac;
  }
  ++in_.seq;
  // The type is the last non-zero byte; zeros after it are padding (§5.4).
  while (len > 0 && p[kHeader + len - 1] == 0) --len;
  if (len == 0) return Opened::unexpected_message;
  --len;
  if (len > kMaxContent) return Opened::record_overflow;
  auto t = p[kHeader + len];
  if (t != 21 && t != 22 && t != 23) return Opened::unexpected_message;
  type = static_cast<RecordType>(t);
  content = std::string_view(record + kHeader, len);
  return Opened::ok;
}

}  // namespace parley::server::net
