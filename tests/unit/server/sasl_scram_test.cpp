// SCRAM against the RFC test vectors (RFC 5802 §5, RFC 7677 §3), then every way an
// exchange must fail: wrong password, unknown account, nonce, replay, encoding, grammar.
#include "server/sasl/scram.hpp"

#include <gtest/gtest.h>

namespace parley::server::sasl {
namespace {

using crypto::Hash;

struct Vector {
  const char* name;
  Hash hash;
  const char* client_nonce;
  const char* server_nonce;
  const char* salt_b64;
  const char* client_first;
  const char* server_first;
  const char* client_final;
  const char* server_final;
};

// RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3 (SCRAM-SHA-256); user "user", password "pencil".
const Vector kRfc5802{
    "Rfc5802", Hash::sha1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};
const Vector kRfc7677{
    "Rfc7677", Hash::sha256, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

ScramLookup lookup(Hash hash, std::string_view password, const char* salt_b64) {
  auto c = derive_scram_credential(hash, password, 4096, *crypto::base64_decode(salt_b64));
  return ScramLookup{c.salt, c.iterations, c.keys};
}

class ScramRfcVector : public testing::TestWithParam<Vector> {};

TEST_P(ScramRfcVector, ServerSideByteForByte) {
  const Vector& v = GetParam();
  ScramServer server(v.hash, false);
  server.set_server_nonce_for_testing(v.server_nonce);
  auto first = server.first(v.client_first);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.username, "user");
  EXPECT_FALSE(first.authzid);
  EXPECT_EQ(first.channel_binding_type, "");
  EXPECT_EQ(server.server_first(lookup(v.hash, "pencil", v.salt_b64)), v.server_first);
  auto fin = server.final(v.client_final);
  ASSERT_TRUE(fin.ok()) << failure_condition(*fin.failure);
  EXPECT_EQ(fin.server_final, v.server_final);
}

TEST_P(ScramRfcVector, ClientSideByteForByte) {
  const Vector& v = GetParam();
  ScramClient client(v.hash, "user", "pencil", {.nonce = v.client_nonce});
  EXPECT_EQ(client.first(), v.client_first);
  EXPECT_EQ(client.final(v.server_first), v.client_final);
  EXPECT_TRUE(client.verify(v.server_final));
}

TEST_P(ScramRfcVector, ClientAndServerWithInjectedNoncesReproduceTheExchange) {
  const Vector& v = GetParam();
  ScramClient client(v.hash, "user", "pencil", {.nonce = v.client_nonce});
  ScramServer server(v.hash, false);
  server.set_server_nonce_for_testing(v.server_nonce);
  std::string client_first = client.first();
  ASSERT_TRUE(server.first(client_first).ok());
  std::string server_first = server.server_first(lookup(v.hash, "pencil", v.salt_b64));
  EXPECT_EQ(server_first, v.server_first);
  auto client_final = client.final(server_first);
  ASSERT_TRUE(client_final);
  EXPECT_EQ(*client_final, v.client_final);
  auto fin = server.final(*client_final);
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(fin.server_final, v.server_final);
  EXPECT_TRUE(client.verify(fin.server_final));
}

TEST_P(ScramRfcVector, ClientAndServerWithRandomNonces) {
  const Vector& v = GetParam();
  ScramClient client(v.hash, "user", "pencil");
  ScramServer server(v.hash, false);
  ASSERT_TRUE(server.first(client.first()).ok());
  auto client_final = client.final(server.server_first(lookup(v.hash, "pencil", v.salt_b64)));
  ASSERT_TRUE(client_final);
  auto fin = server.final(*client_final);
  ASSERT_TRUE(fin.ok());
  EXPECT_TRUE(client.verify(fin.server_final));
}

INSTANTIATE_TEST_SUITE_P(Scram, ScramRfcVector, testing::Values(kRfc5802, kRfc7677),
                         [](const auto& info) { return std::string(info.param.name); });

// --- helpers for failure cases -----------------------------------------------------------

const char* kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::string kClientNonce = "rOprNGfwEbeRWgbNEkqO";
const std::string kServerNonce = "SERVERNONCE";
const std::string kNonce = kClientNonce + kServerNonce;

// The client-final message with a proof that is right for `without_proof` and the given
// exchange: lets a test break exactly one thing (c=, r=) while the proof stays valid.
std::string signed_final(Hash hash, std::string_view password, const std::string& bare,
                         const std::string& server_first, const std::string& without_proof) {
  auto c = derive_scram_credential(hash, password, 4096, *crypto::base64_decode(kSalt));
  auto salted = crypto::pbkdf2(hash, password, c.salt, 4096);
  auto client_key = crypto::hmac(hash, salted, "Client Key");
  auto signature = crypto::hmac(hash, c.keys.stored_key, bare + "," + server_first + "," +
                                                             without_proof);
  for (std::size_t i = 0; i < client_key.size(); ++i) client_key[i] ^= signature[i];
  return without_proof + ",p=" + crypto::base64_encode(client_key);
}

// A SHA-256 server that got "n,,n=user,r=<kClientNonce>" and sent its server-first.
struct Started {
  ScramServer server{Hash::sha256, false};
  std::string bare = "n=user,r=" + kClientNonce;
  std::string server_first;
  explicit Started(const ScramLookup& credentials) {
    server.set_server_nonce_for_testing(kServerNonce);
    EXPECT_TRUE(server.first("n,,n=user,r=" + kClientNonce).ok());
    server_first = server.server_first(credentials);
  }
  ScramServer::Final final_with(const std::string& without_proof) {
    return server.final(signed_final(Hash::sha256, "pencil", bare, server_first, without_proof));
  }
};

ScramLookup pencil() { return lookup(Hash::sha256, "pencil", kSalt); }

// --- credentials ------------------------------------------------------------------------

TEST(ScramServer, AcceptsTheRightPassword) {
  Started s(pencil());
  EXPECT_TRUE(s.final_with("c=biws,r=" + kNonce).ok());
}

TEST(ScramServer, WrongPasswordIsNotAuthorized) {
  ScramClient client(Hash::sha256, "user", "pencil2");
  ScramServer server(Hash::sha256, false);
  ASSERT_TRUE(server.first(client.first()).ok());
  auto client_final = client.final(server.server_first(pencil()));
  ASSERT_TRUE(client_final);
  auto fin = server.final(*client_final);
  EXPECT_EQ(fin.failure, SaslFailure::not_authorized);
  EXPECT_EQ(fin.server_final, "");
}

TEST(ScramServer, UnknownAccountFailsExactlyLikeAWrongPassword) {
  // The lookup for a missing account: a (fake) salt and the usual count, no keys. Even the
  // password the keys would have come from does not get in.
  ScramLookup unknown = pencil();
  unknown.keys.reset();
  ScramClient client(Hash::sha256, "nobody", "pencil", {.nonce = kClientNonce});
  ScramServer server(Hash::sha256, false);
  server.set_server_nonce_for_testing(kServerNonce);
  ASSERT_TRUE(server.first(client.first()).ok());
  std::string server_first = server.server_first(unknown);
  EXPECT_EQ(server_first, "r=" + kNonce + ",s=" + kSalt + ",i=4096");  // looks like any other
  auto fin = server.final(*client.final(server_first));
  EXPECT_EQ(fin.failure, SaslFailure::not_authorized);
}

// --- nonce, replay, order ---------------------------------------------------------------

TEST(ScramServer, NonceMismatchIsNotAuthorizedEvenWithAValidProof) {
  for (const std::string& nonce : std::vector<std::string>{kClientNonce, kClientNonce + "OTHER", kNonce + "x", "x" + kNonce}) {
    Started s(pencil());
    EXPECT_EQ(s.final_with("c=biws,r=" + nonce).failure, SaslFailure::not_authorized) << nonce;
  }
}

TEST(ScramServer, ReplayedFinalMessageFails) {
  Started s(pencil());
  std::string client_final = signed_final(Hash::sha256, "pencil", s.bare, s.server_first,
                                          "c=biws,r=" + kNonce);
  ASSERT_TRUE(s.server.final(client_final).ok());
  EXPECT_EQ(s.server.final(client_final).failure, SaslFailure::not_authorized);
}

TEST(ScramServer, FinalAfterAFailedFinalFails) {
  Started s(pencil());
  EXPECT_FALSE(s.server.final("c=biws,r=" + kNonce + ",p=AAAA").ok());
  EXPECT_FALSE(s.final_with("c=biws,r=" + kNonce).ok());  // the right proof, too late
}

TEST(ScramServer, StepsOutOfOrderFail) {
  {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.final("c=biws,r=x,p=AAAA").failure, SaslFailure::not_authorized);
  }
  {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.server_first(pencil()), "");
    EXPECT_FALSE(server.first("n,,n=user,r=abc").ok());  // the exchange is over
  }
  {
    ScramServer server(Hash::sha256, false);
    ASSERT_TRUE(server.first("n,,n=user,r=abc").ok());
    EXPECT_EQ(server.first("n,,n=user,r=abc").failure, SaslFailure::not_authorized);
    EXPECT_EQ(server.server_first(pencil()), "");
  }
  {
    ScramServer server(Hash::sha256, false);
    ASSERT_TRUE(server.first("n,,n=user,r=abc").ok());
    EXPECT_EQ(server.final("c=biws,r=abc,p=AAAA").failure, SaslFailure::not_authorized);
  }
}

TEST(ScramServer, RefusesALookupWithoutSaltOrCount) {
  ScramServer a(Hash::sha256, false), b(Hash::sha256, false);
  ASSERT_TRUE(a.first("n,,n=user,r=abc").ok());
  ASSERT_TRUE(b.first("n,,n=user,r=abc").ok());
  EXPECT_EQ(a.server_first(ScramLookup{"", 4096, std::nullopt}), "");
  EXPECT_EQ(b.server_first(ScramLookup{"salt", 0, std::nullopt}), "");
}

TEST(ScramServer, RandomServerNonceIsLongPrintableAndFresh) {
  auto nonce_of = [] {
    ScramServer server(Hash::sha256, false);
    EXPECT_TRUE(server.first("n,,n=user,r=abc").ok());
    std::string sf = server.server_first(pencil());
    return sf.substr(5, sf.find(',') - 5);  // after "r=abc"
  };
  std::string a = nonce_of(), b = nonce_of();
  EXPECT_GE(a.size(), 24u);  // base64 of at least 18 random bytes
  EXPECT_EQ(a.find(','), std::string::npos);
  for (char c : a) EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << int(c);
  EXPECT_NE(a, b);
}

// --- client-final grammar ---------------------------------------------------------------

TEST(ScramServer, BadBase64InProofOrChannelBindingIsMalformed) {
  for (const std::string& message : std::vector<std::string>{"c=biws,r=" + kNonce + ",p=not*base64", "c=bi*s,r=" + kNonce +
                              ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                              "c=biw,r=" + kNonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                              "c=biws,r=" + kNonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV"}) {
    Started s(pencil());
    EXPECT_EQ(s.server.final(message).failure, SaslFailure::malformed_request) << message;
  }
}

TEST(ScramServer, ProofOfTheWrongLengthIsMalformed) {
  Started s(pencil());
  EXPECT_EQ(s.server.final("c=biws,r=" + kNonce + ",p=AAAA").failure,
            SaslFailure::malformed_request);
}

TEST(ScramServer, ClientFinalWithMissingOrMisplacedFieldsIsMalformed) {
  const std::string p = ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  for (const std::string& message : std::vector<std::string>{std::string(""), "c=biws,r=" + kNonce, "r=" + kNonce + p,
                              "c=biws" + p, "r=" + kNonce + ",c=biws" + p,
                              "c=biws,r=" + kNonce + p + ",x=ext", "c=biws,,r=" + kNonce + p,
                              "c=biws,r=" + kNonce + ",m=mandatory" + p,
                              "c=biws,r=" + kNonce + ",p=AAAA" + p,
                              "c=biws,r=" + kNonce + ",1=x" + p,
                              "c=biws,r=" + kNonce + p + ",",
                              "c=biws,r=" + kNonce + std::string("\0", 1) + p}) {
    Started s(pencil());
    EXPECT_EQ(s.server.final(message).failure, SaslFailure::malformed_request) << message;
  }
}

TEST(ScramServer, UnknownExtensionsInClientFinalAreIgnoredButSigned) {
  Started s(pencil());
  EXPECT_TRUE(s.final_with("c=biws,r=" + kNonce + ",x=whatever=ok").ok());
}

TEST(ScramServer, OverlongMessagesAreMalformed) {
  ScramServer server(Hash::sha256, false);
  std::string nonce(kMaxScramMessage, 'a');
  EXPECT_EQ(server.first("n,,n=user,r=" + nonce).failure, SaslFailure::malformed_request);
}

// --- client-first grammar ---------------------------------------------------------------

TEST(ScramServer, ClientFirstWithMissingFieldsIsMalformed) {
  for (const std::string& message :
       std::vector<std::string>{"", "n", "n,", "n,,", "n,,n=user", "n,,r=abc", "n,,r=abc,n=user", "n,,n=user,r=",
        "n,,n=,r=abc", "n,,n=user,,r=abc", "n,,n=user,r=abc,", "x,,n=user,r=abc",
        "p,,n=user,r=abc", "p=,,n=user,r=abc", "p=tls exporter,,n=user,r=abc",
        "F,n,,n=user,r=abc", "nn,,n=user,r=abc", "n,b=admin,n=user,r=abc",
        "n,,n=user,r=abc,7=x"}) {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.first(message).failure, SaslFailure::malformed_request) << message;
  }
}

TEST(ScramServer, MandatoryExtensionIsRefused) {
  // RFC 5802 §5.1: "m" MUST cause authentication failure.
  for (const char* message : {"n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,m=ext"}) {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.first(message).failure, SaslFailure::malformed_request) << message;
  }
}

TEST(ScramServer, OptionalExtensionInClientFirstIsIgnoredAndPartOfAuthMessage) {
  ScramServer server(Hash::sha256, false);
  server.set_server_nonce_for_testing(kServerNonce);
  std::string bare = "n=user,r=" + kClientNonce + ",x=future";
  ASSERT_TRUE(server.first("n,," + bare).ok());
  std::string sf = server.server_first(pencil());
  EXPECT_TRUE(server.final(signed_final(Hash::sha256, "pencil", bare, sf, "c=biws,r=" + kNonce))
                  .ok());
}

TEST(ScramServer, NonceMustBePrintableWithoutComma) {
  for (const std::string& message : std::vector<std::string>{std::string("n,,n=user,r=ab cd"), std::string("n,,n=user,r=ab\x7f"),
                              std::string("n,,n=user,r=ab\tc"), std::string("n,,n=user,r=ab,cd"),
                              std::string("n,,n=user,r=\xc3\xa9t\xc3\xa9")}) {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.first(message).failure, SaslFailure::malformed_request) << message;
  }
}

// --- the client's SaltedPassword cache ----------------------------------------------------

// One whole exchange of `password` against the "pencil" credentials; true if both sides
// accept (the server the proof, the client the server's signature).
bool exchange(std::string_view username, std::string_view password, SaltedPasswordCache& cache) {
  ScramClientOptions options;
  options.salted_password_cache = &cache;
  ScramClient client(Hash::sha256, username, password, options);
  ScramServer server(Hash::sha256, false);
  if (!server.first(client.first()).ok()) return false;
  auto client_final = client.final(server.server_first(pencil()));
  if (!client_final) return false;
  auto fin = server.final(*client_final);
  return fin.ok() && client.verify(fin.server_final);
}

TEST(SaltedPasswordCache, ALoginAgainSkipsPbkdf2AndStillProvesThePassword) {
  SaltedPasswordCache cache;
  EXPECT_TRUE(exchange("user", "pencil", cache));
  EXPECT_TRUE(exchange("user", "pencil", cache));
  EXPECT_TRUE(exchange("user", "pencil", cache));
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 2u);
}

TEST(SaltedPasswordCache, AnotherPasswordOrUserIsNotServedFromTheCache) {
  SaltedPasswordCache cache;
  EXPECT_TRUE(exchange("user", "pencil", cache));
  // Same account and salt, wrong password: computed afresh, so the server refuses it.
  EXPECT_FALSE(exchange("user", "pencil2", cache));
  EXPECT_FALSE(exchange("user", "pencil2", cache));
  // The right password is still the one cached.
  EXPECT_TRUE(exchange("user", "pencil", cache));
  EXPECT_TRUE(exchange("other", "pencil", cache));
  EXPECT_EQ(cache.misses(), 3u);  // user/pencil, user/pencil2, other/pencil
  EXPECT_EQ(cache.hits(), 2u);
}

}  // namespace
}  // namespace parley::server::sasl
