// PLAIN (RFC 4616) against stored SCRAM credentials, and the mechanism list and names.
#include "server/sasl/mechanisms.hpp"
#include "server/sasl/plain.hpp"

#include <gtest/gtest.h>

namespace parley::server::sasl {
namespace {

using crypto::Hash;
using namespace std::string_literals;

ScramLookup credential_for(std::string_view prepared_password, Hash hash = Hash::sha256) {
  auto c = derive_scram_credential(hash, prepared_password, 4096);
  return ScramLookup{c.salt, c.iterations, c.keys};
}

PlainServer::Result login(std::string_view message, const ScramLookup& credentials) {
  PlainServer plain;
  auto request = plain.parse(message);
  EXPECT_TRUE(request.ok());
  return plain.verify(credentials);
}

TEST(PlainServer, RightPasswordSucceeds) {
  PlainServer plain;
  auto request = plain.parse("\0user\0pencil"s);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request.authcid, "user");
  EXPECT_FALSE(request.authzid);
  EXPECT_TRUE(plain.verify(credential_for("pencil")).ok());
}

TEST(PlainServer, WorksWithSha1CredentialsToo) {
  PlainServer plain;
  ASSERT_TRUE(plain.parse("\0user\0pencil"s).ok());
  EXPECT_TRUE(plain.verify(credential_for("pencil", Hash::sha1), Hash::sha1).ok());
}

TEST(PlainServer, AuthzidIsReturned) {
  PlainServer plain;
  auto request = plain.parse("admin@example.org\0user\0pencil"s);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request.authzid, "admin@example.org");
  EXPECT_EQ(request.authcid, "user");
}

TEST(PlainServer, WrongPasswordIsNotAuthorized) {
  EXPECT_EQ(login("\0user\0pencil2"s, credential_for("pencil")).failure,
            SaslFailure::not_authorized);
  EXPECT_EQ(login("\0user\0Pencil"s, credential_for("pencil")).failure,
            SaslFailure::not_authorized);
}

TEST(PlainServer, UnknownAccountFailsLikeAWrongPassword) {
  ScramLookup unknown = credential_for("pencil");
  unknown.keys.reset();  // even the right password cannot match missing keys
  EXPECT_EQ(login("\0nobody\0pencil"s, unknown).failure, SaslFailure::not_authorized);
}

TEST(PlainServer, PasswordIsPreparedWithOpaqueString) {
  // RFC 8265 §4.2.1: a non-ASCII space (U+00A0) maps to U+0020 before the derivation.
  EXPECT_TRUE(login("\0user\0pen\xc2\xa0" "cil"s, credential_for("pen cil")).ok());
  // A control character is refused by the profile: never a match.
  EXPECT_EQ(login("\0user\0pen\x01" "cil"s, credential_for("pen\x01" "cil")).failure,
            SaslFailure::not_authorized);
}

TEST(PlainServer, MalformedMessagesAreRefused) {
  std::string too_long(kMaxPlainField + 1, 'a');
  for (const std::string& message :
       std::vector<std::string>{""s, "userpencil"s, "user\0pencil"s, "\0\0pencil"s, "\0user\0"s, "\0user\0pen\0cil"s,
        "a\0b\0c\0d"s, "\0"s + too_long + "\0pencil"s, "\0user\0"s + too_long,
        too_long + "\0user\0pencil"s, "\0us\xffr\0pencil"s, "\0user\0pen\xc3"s,
        "\xc0\xaf\0user\0pencil"s}) {
    PlainServer plain;
    EXPECT_EQ(plain.parse(message).failure, SaslFailure::malformed_request) << message;
    EXPECT_EQ(plain.verify(credential_for("pencil")).failure, SaslFailure::not_authorized);
  }
}

TEST(PlainServer, LongestFieldsAreAccepted) {
  std::string longest(kMaxPlainField, 'a');
  PlainServer plain;
  EXPECT_TRUE(plain.parse(longest + "\0"s + longest + "\0"s + longest).ok());
}

TEST(PlainServer, StepsOutOfOrderFail) {
  PlainServer early;
  EXPECT_EQ(early.verify(credential_for("pencil")).failure, SaslFailure::not_authorized);

  PlainServer twice;
  ASSERT_TRUE(twice.parse("\0user\0pencil"s).ok());
  EXPECT_FALSE(twice.parse("\0user\0pencil"s).ok());
  EXPECT_FALSE(twice.verify(credential_for("pencil")).ok());

  PlainServer replay;
  ScramLookup good = credential_for("pencil");
  ASSERT_TRUE(replay.parse("\0user\0pencil"s).ok());
  ASSERT_TRUE(replay.verify(good).ok());
  EXPECT_EQ(replay.verify(good).failure, SaslFailure::not_authorized);  // password is gone
}

TEST(PlainVerifyPassword, ChecksAgainstStoredKey) {
  ScramLookup good = credential_for("pencil");
  EXPECT_TRUE(verify_password(Hash::sha256, "pencil", good));
  EXPECT_FALSE(verify_password(Hash::sha256, "pencil ", good));
  EXPECT_FALSE(verify_password(Hash::sha1, "pencil", good));  // key sizes differ
  ScramLookup no_salt = good;
  no_salt.salt.clear();
  EXPECT_FALSE(verify_password(Hash::sha256, "pencil", no_salt));
  ScramLookup no_count = good;
  no_count.iterations = 0;
  EXPECT_FALSE(verify_password(Hash::sha256, "pencil", no_count));
}

// --- mechanisms -------------------------------------------------------------------------

using M = Mechanism;

TEST(SaslMechanisms, OfferedInPreferenceOrder) {
  EXPECT_EQ(offered(true, true),
            (std::vector<M>{M::scram_sha_256_plus, M::scram_sha_1_plus, M::scram_sha_256,
                            M::scram_sha_1, M::plain}));
}

TEST(SaslMechanisms, PlusOnlyWithChannelBindingAndPlainOnlyOverTls) {
  EXPECT_EQ(offered(true, false), (std::vector<M>{M::scram_sha_256, M::scram_sha_1, M::plain}));
  EXPECT_EQ(offered(false, false), (std::vector<M>{M::scram_sha_256, M::scram_sha_1}));
  EXPECT_EQ(offered(false, true), (std::vector<M>{M::scram_sha_256, M::scram_sha_1}));
}

TEST(SaslMechanisms, NamesRoundTrip) {
  for (M m : {M::scram_sha_256_plus, M::scram_sha_1_plus, M::scram_sha_256, M::scram_sha_1,
              M::plain}) {
    EXPECT_EQ(mechanism_from_name(name(m)), m) << name(m);
  }
  EXPECT_EQ(name(M::scram_sha_256_plus), "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(name(M::scram_sha_1_plus), "SCRAM-SHA-1-PLUS");
  EXPECT_EQ(name(M::scram_sha_256), "SCRAM-SHA-256");
  EXPECT_EQ(name(M::scram_sha_1), "SCRAM-SHA-1");
  EXPECT_EQ(name(M::plain), "PLAIN");
}

TEST(SaslMechanisms, UnknownOrMiscasedNamesAreNotMechanisms) {
  for (const char* text : {"", "plain", "scram-sha-1", "SCRAM-SHA-512", "DIGEST-MD5",
                           "SCRAM-SHA-256-PLUS ", "EXTERNAL", "ANONYMOUS"}) {
    EXPECT_FALSE(mechanism_from_name(text)) << text;
  }
}

TEST(SaslMechanisms, HashAndPlus) {
  EXPECT_EQ(scram_hash(M::scram_sha_256_plus), Hash::sha256);
  EXPECT_EQ(scram_hash(M::scram_sha_256), Hash::sha256);
  EXPECT_EQ(scram_hash(M::scram_sha_1_plus), Hash::sha1);
  EXPECT_EQ(scram_hash(M::scram_sha_1), Hash::sha1);
  EXPECT_FALSE(scram_hash(M::plain));
  EXPECT_TRUE(is_plus(M::scram_sha_256_plus));
  EXPECT_TRUE(is_plus(M::scram_sha_1_plus));
  EXPECT_FALSE(is_plus(M::scram_sha_256));
  EXPECT_FALSE(is_plus(M::plain));
}

TEST(SaslMechanisms, FailureConditionsAreRfc6120Names) {
  using F = SaslFailure;
  EXPECT_EQ(failure_condition(F::aborted), "aborted");
  EXPECT_EQ(failure_condition(F::account_disabled), "account-disabled");
  EXPECT_EQ(failure_condition(F::credentials_expired), "credentials-expired");
  EXPECT_EQ(failure_condition(F::encryption_required), "encryption-required");
  EXPECT_EQ(failure_condition(F::incorrect_encoding), "incorrect-encoding");
  EXPECT_EQ(failure_condition(F::invalid_authzid), "invalid-authzid");
  EXPECT_EQ(failure_condition(F::invalid_mechanism), "invalid-mechanism");
  EXPECT_EQ(failure_condition(F::malformed_request), "malformed-request");
  EXPECT_EQ(failure_condition(F::mechanism_too_weak), "mechanism-too-weak");
  EXPECT_EQ(failure_condition(F::not_authorized), "not-authorized");
  EXPECT_EQ(failure_condition(F::temporary_auth_failure), "temporary-auth-failure");
}

TEST(SaslUtf8, AcceptsWellFormedAndRefusesTheRest) {
  for (const std::string& ok : std::vector<std::string>{""s, "abc"s, "\0"s, "\xc3\xa9"s, "\xe2\x82\xac"s, "\xf0\x9f\x98\x80"s,
                         "\xf4\x8f\xbf\xbf"s, "\xed\x9f\xbf"s}) {
    EXPECT_TRUE(valid_utf8(ok)) << ok;
  }
  for (const std::string& bad : std::vector<std::string>{"\x80"s, "\xc3"s, "\xc0\x80"s, "\xc1\xbf"s, "\xe0\x80\x80"s,
                          "\xed\xa0\x80"s, "\xf0\x80\x80\x80"s, "\xf4\x90\x80\x80"s, "\xf5"s,
                          "\xff"s, "a\xe2\x82"s, "\xe2\x28\xa1"s}) {
    EXPECT_FALSE(valid_utf8(bad)) << bad;
  }
}

}  // namespace
}  // namespace parley::server::sasl
