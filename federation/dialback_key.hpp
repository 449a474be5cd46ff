#pragma once
// Server dialback keys (XEP-0220 §2.1.2 and §4, with the algorithm of XEP-0185):
//
//   key = hex( HMAC-SHA256( hex(SHA256(secret)), receiving " " originating " " stream-id ) )
//
// The secret is derived from the server secret (server/server_secret.hpp) under the purpose
// "parley dialback v1", so it survives restarts and is shared by every process that uses
// the same key file (an authoritative server may be a different process than the one that
// sent <db:result/>), yet has no relation to any other key parley derives.
//
// The key ties together both domains and the Receiving Server's stream id: the same pair
// of domains on another stream gets another key. Domains are hashed as given: pass them
// prepared (server::normalize_domain), as they appear in the stream's 'from' and 'to'.
//
// Immutable after construction; safe to share between threads.

#include <string>
#include <string_view>

#include "server/server_secret.hpp"

namespace parley::federation {

/// XEP-0185's key function on a raw secret (any length): 64 lower-case hex digits.
std::string dialback_key(std::string_view secret, std::string_view receiving,
                         std::string_view originating, std::string_view stream_id);

class DialbackKeys {
 public:
  static constexpr std::string_view kPurpose = "parley dialback v1";

  explicit DialbackKeys(const server::ServerSecret& secret);
  DialbackKeys(const DialbackKeys&) = delete;
  DialbackKeys& operator=(const DialbackKeys&) = delete;
  ~DialbackKeys();

  /// The key the Originating Server sends in <db:result/> (XEP-0220 §2.1.2).
  std::string generate(std::string_view receiving, std::string_view originating,
                       std::string_view stream_id) const;

  /// The Authoritative Server's check of <db:verify/> (XEP-0220 §2.2.2): true when `key`
  /// (surrounding XML whitespace ignored) is the key for these values. Compares in
  /// constant time; false whenever a domain or the stream id is empty.
  bool verify(std::string_view receiving, std::string_view originating,
              std::string_view stream_id, std::string_view key) const;

 private:
  std::string secret_;
};

}  // namespace parley::federation
