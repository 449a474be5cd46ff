#include "server/crypto.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace parley::server::crypto {
namespace {

TEST(Crypto, HmacMatchesRfc4231AndRfc2202) {
  // RFC 4231 test case 2 (HMAC-SHA-256) and RFC 2202 test case 2 (HMAC-SHA-1).
  EXPECT_EQ(hex(hmac(Hash::sha256, "Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac(Hash::sha1, "Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Crypto, Pbkdf2MatchesRfc6070AndRfc7914) {
  EXPECT_EQ(hex(pbkdf2(Hash::sha1, "password", "salt", 4096)),
            "4b007901b765489abead49d926f721d065a429c1");
  // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1 (first 32 bytes).
  EXPECT_EQ(hex(pbkdf2(Hash::sha256, "passwd", "salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(Crypto, Base64RoundTripsAndIsStrict) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm8"));       // missing padding
  EXPECT_FALSE(base64_decode("Zm 8="));     // whitespace
  EXPECT_FALSE(base64_decode("Z=m8"));      // padding in the middle
  EXPECT_FALSE(base64_decode("Zm8*"));      // not in the alphabet
  EXPECT_FALSE(base64_decode("Zg=a"));
}

TEST(Crypto, AesGcmRoundTripsAndDetectsTampering) {
  std::string key(32, 'k');
  auto sealed = seal_aes256gcm(key, "secret keys", "aad");
  EXPECT_EQ(sealed.size(), 12 + 11 + 16u);
  EXPECT_EQ(sealed.find("secret keys"), std::string::npos);
  auto opened = open_aes256gcm(key, sealed, "aad");
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "secret keys");
  // A fresh nonce each time: the same plaintext never seals the same way twice.
  EXPECT_NE(seal_aes256gcm(key, "secret keys", "aad"), sealed);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto bad = sealed;
    bad[i] ^= 1;
    EXPECT_FALSE(open_aes256gcm(key, bad, "aad")) << "flipped byte " << i;
  }
  EXPECT_FALSE(open_aes256gcm(key, sealed, "other aad"));
  EXPECT_FALSE(open_aes256gcm(std::string(32, 'x'), sealed, "aad"));
  EXPECT_FALSE(open_aes256gcm(key, sealed.substr(0, 20), "aad"));
}

TEST(Crypto, HkdfSeparatesPurposes) {
  std::string secret(32, 's');
  EXPECT_EQ(hkdf_sha256(secret, "a", 32).size(), 32u);
  EXPECT_EQ(hkdf_sha256(secret, "a", 32), hkdf_sha256(secret, "a", 32));
  EXPECT_NE(hkdf_sha256(secret, "a", 32), hkdf_sha256(secret, "b", 32));
  EXPECT_NE(hkdf_sha256(secret, "a", 32), hkdf_sha256(std::string(32, 't'), "a", 32));
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(equal_constant_time("abc", "abc"));
  EXPECT_FALSE(equal_constant_time("abc", "abd"));
  EXPECT_FALSE(equal_constant_time("abc", "abcd"));
}

}  // namespace
}  // namespace parley::server::crypto
