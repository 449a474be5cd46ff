#include "server/credentials.hpp"

#include <gtest/gtest.h>

namespace parley::server {
namespace {

using crypto::Bytes;
using crypto::Hash;

std::string xor_bytes(std::string a, const std::string& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] ^= b[i];
  return a;
}

// A credential is right when the client proof of the RFC's example exchange verifies
// against StoredKey (RFC 5802 §3) and ServerKey yields the RFC's server signature.
void expect_rfc_exchange(Hash hash, const std::string& salt_b64, const std::string& auth_message,
                         const std::string& proof_b64, const std::string& server_sig_b64) {
  auto salt = crypto::base64_decode(salt_b64);
  ASSERT_TRUE(salt);
  auto c = derive_scram_credential(hash, "pencil", 4096, *salt);
  EXPECT_EQ(c.salt, *salt);
  EXPECT_EQ(c.iterations, 4096);
  auto proof = crypto::base64_decode(proof_b64);
  ASSERT_TRUE(proof);
  Bytes client_signature = crypto::hmac(hash, c.keys.stored_key, auth_message);
  Bytes client_key = xor_bytes(*proof, client_signature);
  EXPECT_EQ(crypto::digest(hash, client_key), c.keys.stored_key);
  EXPECT_EQ(crypto::base64_encode(crypto::hmac(hash, c.keys.server_key, auth_message)),
            server_sig_b64);
}

TEST(ScramCredential, MatchesRfc5802Example) {
  expect_rfc_exchange(
      Hash::sha1, "QSXCR+Q6sek8bf92",
      "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
      "s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
      "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

TEST(ScramCredential, MatchesRfc7677Example) {
  expect_rfc_exchange(
      Hash::sha256, "W22ZaJ0SNY7soEsUEjb6gQ==",
      "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,"
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
      "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(ScramCredential, FreshRandomSaltOfSixteenBytes) {
  auto a = derive_scram_credential(Hash::sha256, "pw", 4096);
  auto b = derive_scram_credential(Hash::sha256, "pw", 4096);
  EXPECT_EQ(a.salt.size(), kScramSaltSize);
  EXPECT_GE(kScramSaltSize, 16u);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_NE(a.keys.stored_key, b.keys.stored_key);
}

class Vault : public ::testing::Test {
 protected:
  ServerSecret secret_ = ServerSecret::from_bytes(std::string(32, '\x42'));
  CredentialVault vault_{secret_};
  ScramCredential cred_ = derive_scram_credential(Hash::sha256, "pencil", 4096);
};

TEST_F(Vault, SealedKeysRoundTrip) {
  auto sealed = vault_.seal(cred_, "alice@example.org");
  EXPECT_EQ(sealed.find(cred_.keys.stored_key), std::string::npos);
  EXPECT_EQ(sealed.find(cred_.keys.server_key), std::string::npos);
  auto keys = vault_.open(Hash::sha256, "alice@example.org", cred_.salt, 4096, sealed);
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->stored_key, cred_.keys.stored_key);
  EXPECT_EQ(keys->server_key, cred_.keys.server_key);
}

TEST_F(Vault, FlippedByteIsRejected) {
  auto sealed = vault_.seal(cred_, "alice@example.org");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto bad = sealed;
    bad[i] ^= 0x80;
    EXPECT_FALSE(vault_.open(Hash::sha256, "alice@example.org", cred_.salt, 4096, bad)) << i;
  }
}

TEST_F(Vault, RowMovedToAnotherAccountIsRejected) {
  auto sealed = vault_.seal(cred_, "alice@example.org");
  EXPECT_FALSE(vault_.open(Hash::sha256, "bob@example.org", cred_.salt, 4096, sealed));
  EXPECT_FALSE(vault_.open(Hash::sha256, "alice@example.net", cred_.salt, 4096, sealed));
}

TEST_F(Vault, AlteredParametersAreRejected) {
  auto sealed = vault_.seal(cred_, "alice@example.org");
  EXPECT_FALSE(vault_.open(Hash::sha256, "alice@example.org", cred_.salt, 1, sealed));
  EXPECT_FALSE(vault_.open(Hash::sha256, "alice@example.org", std::string(16, 'x'), 4096, sealed));
  EXPECT_FALSE(vault_.open(Hash::sha1, "alice@example.org", cred_.salt, 4096, sealed));
}

TEST_F(Vault, AnotherServerSecretCannotOpen) {
  auto sealed = vault_.seal(cred_, "alice@example.org");
  auto other_secret = ServerSecret::from_bytes(std::string(32, '\x43'));
  CredentialVault other{other_secret};
  EXPECT_FALSE(other.open(Hash::sha256, "alice@example.org", cred_.salt, 4096, sealed));
}

TEST_F(Vault, FakeSaltIsStableAndShapedLikeARealOne) {
  auto a = vault_.fake_salt(Hash::sha256, "nobody@example.org");
  EXPECT_EQ(a.size(), cred_.salt.size());
  EXPECT_EQ(a, vault_.fake_salt(Hash::sha256, "nobody@example.org"));
  CredentialVault again{secret_};  // as after a restart
  EXPECT_EQ(a, again.fake_salt(Hash::sha256, "nobody@example.org"));
  EXPECT_NE(a, vault_.fake_salt(Hash::sha256, "nobody2@example.org"));
  EXPECT_NE(a, vault_.fake_salt(Hash::sha1, "nobody@example.org"));
  auto other_secret = ServerSecret::from_bytes(std::string(32, '\x44'));
  EXPECT_NE(a, CredentialVault{other_secret}.fake_salt(Hash::sha256, "nobody@example.org"));
}

}  // namespace
}  // namespace parley::server
