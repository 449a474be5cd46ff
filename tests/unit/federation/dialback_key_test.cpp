#include "federation/dialback_key.hpp"

#include <gtest/gtest.h>

#include <string>

#include "server/crypto.hpp"

namespace parley::federation {
namespace {

// The worked example of XEP-0185 §3, which XEP-0220 adopts for its key generation.
constexpr std::string_view kSecret = "s3cr3tf0rd14lb4ck";
constexpr std::string_view kReceiving = "xmpp.example.com";
constexpr std::string_view kOriginating = "example.org";
constexpr std::string_view kStreamId = "D60000229F";
constexpr std::string_view kKey = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643";

TEST(DialbackKey, MatchesTheXepExample) {
  // The intermediate value the example shows: the hex SHA-256 of the secret is the HMAC key.
  EXPECT_EQ(server::crypto::hex(server::crypto::digest(server::crypto::Hash::sha256, kSecret)),
            "a7136eb1f46c9ef18c5e78c36ca257067c69b3d518285f0b18a96c33beae9acc");
  EXPECT_EQ(dialback_key(kSecret, kReceiving, kOriginating, kStreamId), kKey);
}

TEST(DialbackKey, EveryInputChangesTheKey) {
  std::string base = dialback_key(kSecret, kReceiving, kOriginating, kStreamId);
  EXPECT_NE(dialback_key(kSecret, kReceiving, kOriginating, "D60000229G"), base);
  EXPECT_NE(dialback_key(kSecret, kReceiving, "example.net", kStreamId), base);
  EXPECT_NE(dialback_key(kSecret, "xmpp.example.net", kOriginating, kStreamId), base);
  EXPECT_NE(dialback_key("another secret", kReceiving, kOriginating, kStreamId), base);
  // Swapping the domains is another key: the direction is part of what is signed.
  EXPECT_NE(dialback_key(kSecret, kOriginating, kReceiving, kStreamId), base);
  // The spaces keep concatenations apart (XEP-0185 §2, note 5's example).
  EXPECT_NE(dialback_key(kSecret, "example.info", "rm.example.org", kStreamId),
            dialback_key(kSecret, "example.in", "form.example.org", kStreamId));
}

TEST(DialbackKeys, DerivedFromTheServerSecret) {
  auto secret = server::ServerSecret::from_bytes(std::string(32, 'k'));
  DialbackKeys keys(secret);
  std::string key = keys.generate(kReceiving, kOriginating, kStreamId);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  // The HMAC secret is the derived key, not the raw server secret.
  EXPECT_EQ(key, dialback_key(secret.derive("parley dialback v1"), kReceiving, kOriginating, kStreamId));
  EXPECT_NE(key, dialback_key(std::string(32, 'k'), kReceiving, kOriginating, kStreamId));

  // Same key file (another process, a restart): same keys. Another secret: other keys.
  DialbackKeys again(secret);
  EXPECT_EQ(again.generate(kReceiving, kOriginating, kStreamId), key);
  auto other_secret = server::ServerSecret::from_bytes(std::string(32, 'j'));
  DialbackKeys other(other_secret);
  EXPECT_NE(other.generate(kReceiving, kOriginating, kStreamId), key);
}

TEST(DialbackKeys, VerifyTiesTheKeyToItsStream) {
  auto secret = server::ServerSecret::from_bytes(std::string(32, 's'));
  DialbackKeys keys(secret);
  std::string key = keys.generate("recv.example", "orig.example", "stream-1");
  EXPECT_TRUE(keys.verify("recv.example", "orig.example", "stream-1", key));
  // As XML character data, indented.
  EXPECT_TRUE(keys.verify("recv.example", "orig.example", "stream-1", "\n    " + key + "\n"));

  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "stream-2", key));
  EXPECT_FALSE(keys.verify("recv.example", "evil.example", "stream-1", key));
  EXPECT_FALSE(keys.verify("other.example", "orig.example", "stream-1", key));
  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "stream-1", key.substr(0, 63)));
  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "stream-1", ""));
  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "stream-1", "   "));
  std::string flipped = key;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "stream-1", flipped));
  // No stream id, no key: a key for an empty id must not verify.
  std::string empty_id_key = keys.generate("recv.example", "orig.example", "");
  EXPECT_FALSE(keys.verify("recv.example", "orig.example", "", empty_id_key));
}

}  // namespace
}  // namespace parley::federation
