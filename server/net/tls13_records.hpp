#pragma once
// The TLS 1.3 record protection of RFC 8446 §5.2–§5.3 and the key schedule's traffic-key
// steps (§7.2, §7.3), for a connection whose handshake OpenSSL did and whose per-connection
// object was then freed (TlsStream::take_over_records, docs/profiling.md). What it holds is
// the two directions' traffic secrets, keys, IVs and sequence numbers: about 250 bytes,
// against OpenSSL's ~15 KiB per connection.
//
// Cipher suites: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
// TLS_CHACHA20_POLY1305_SHA256, the AEAD suites of parley's policy. The AEAD itself is
// OpenSSL's (EVP, one cipher context per thread).
//
// Not thread-safe: one connection, its own thread. Secrets are wiped when replaced or freed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::server::net {

enum class RecordType : std::uint8_t { alert = 21, handshake = 22, application_data = 23 };

class Tls13Records {
 public:
  static constexpr std::size_t kHeader = 5;
  static constexpr std::size_t kMaxContent = 16384;               // 2^14 (§5.1)
  static constexpr std::size_t kMaxCiphertext = kMaxContent + 256;  // §5.2
  static constexpr std::size_t kMaxRecord = kHeader + kMaxCiphertext;
  /// Records sent under one key before we update it (§5.5: AES-GCM is safe for 2^24.5).
  static constexpr std::uint64_t kUpdateAfter = std::uint64_t{1} << 23;

  /// True for the three suites above (the IANA code, e.g. 0x1301).
  static bool supported(std::uint16_t suite);

  /// `*_secret`: the current client (in) and server (out) application traffic secrets, of
  /// the suite's hash length; `*_seq`: how many records each already protected.
  Tls13Records(std::uint16_t suite, std::string_view in_secret, std::uint64_t in_seq,
               std::string_view out_secret, std::uint64_t out_seq,
               std::uint64_t update_after = kUpdateAfter);
  ~Tls13Records();
  Tls13Records(const Tls13Records&) = delete;
  Tls13Records& operator=(const Tls13Records&) = delete;

  /// Appends one protected record of `type` carrying `content` (at most kMaxContent bytes).
  void seal(RecordType type, std::string_view content, std::string& out);

  /// The whole size of the record that `data` begins with (header included), or 0 while
  /// fewer than kHeader bytes are there. More than kMaxRecord means record_overflow.
  static std::size_t record_size(std::string_view data);

  enum class Opened { ok, bad_record_mac, record_overflow, unexpected_message };
  /// Unprotects the complete record at `record` (record_size() bytes) in place. On ok,
  /// `type` is its inner content type and `content` points into the record.
  Opened open(char* record, std::size_t size, RecordType& type, std::string_view& content);

  /// The next traffic secret and keys of one direction, after a KeyUpdate (§4.6.3, §7.2).
  void update_in();
  void update_out();
  /// Time to send a KeyUpdate before the next record (kUpdateAfter records under this key).
  bool out_update_due() const { return out_.seq >= update_after_; }

 private:
  struct Direction {
    std::array<unsigned char, 48> secret{};
    std::array<unsigned char, 32> key{};
    std::array<unsigned char, 12> iv{};
    std::uint64_t seq = 0;
  };
  void set(Direction& d, std::string_view secret, std::uint64_t seq);
  void next(Direction& d);
  std::array<unsigned char, 12> nonce(const Direction& d) const;

  std::uint16_t suite_;
  std::size_t hash_len_;
  std::size_t key_len_;
  std::uint64_t update_after_;
  Direction in_;
  Direction out_;
};

}  // namespace parley::server::net
