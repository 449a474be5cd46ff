// SCRAM channel binding (RFC 5802 §6, RFC 9266 tls-exporter), the gs2 flags, the authzid,
// user-name escaping (RFC 5802 §5.1), and the client's own checks of what the server sends.
#include "server/sasl/scram.hpp"

#include <gtest/gtest.h>

namespace parley::server::sasl {
namespace {

using crypto::Hash;

const std::string kExporter(32, '\x5a');  // stands in for the 32 exported bytes
const char* kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";

ScramLookup pencil(Hash hash = Hash::sha256) {
  auto c = derive_scram_credential(hash, "pencil", 4096, *crypto::base64_decode(kSalt));
  return ScramLookup{c.salt, c.iterations, c.keys};
}

// What a TLS 1.3 connection offering tls-exporter (and advertising -PLUS) looks like.
ChannelBindingInfo tls_exporter_offered() {
  ChannelBindingInfo info;
  info.server_supports_plus = true;
  info.types = {"tls-exporter", "tls-server-end-point"};
  info.data = [](std::string_view type) -> std::optional<std::string> {
    if (type == kTlsExporter) return kExporter;
    return std::nullopt;  // offered but unavailable on this connection
  };
  return info;
}

struct Outcome {
  std::optional<SaslFailure> first_failure;
  std::optional<SaslFailure> final_failure;
  bool client_verified = false;
  ScramServer::ClientFirst first;
};

// A whole exchange between a ScramClient and a ScramServer; stops at the first failure.
Outcome run(ScramClient& client, ScramServer& server, const ScramLookup& credentials) {
  Outcome out;
  out.first = server.first(client.first());
  out.first_failure = out.first.failure;
  if (out.first_failure) return out;
  auto client_final = client.final(server.server_first(credentials));
  if (!client_final) {
    ADD_FAILURE() << "client refused the server-first message";
    return out;
  }
  auto fin = server.final(*client_final);
  out.final_failure = fin.failure;
  if (fin.ok()) out.client_verified = client.verify(fin.server_final);
  return out;
}

// --- -PLUS ------------------------------------------------------------------------------

TEST(ScramPlus, TlsExporterDataMatching) {
  for (Hash hash : {Hash::sha256, Hash::sha1}) {
    ScramClient client(hash, "user", "pencil",
                       {.channel_binding = ClientChannelBinding{"tls-exporter", kExporter}});
    ScramServer server(hash, true, tls_exporter_offered());
    auto out = run(client, server, pencil(hash));
    EXPECT_FALSE(out.first_failure);
    EXPECT_EQ(out.first.channel_binding_type, "tls-exporter");
    EXPECT_FALSE(out.final_failure);
    EXPECT_TRUE(out.client_verified);
  }
}

TEST(ScramPlus, ClientFinalCarriesGs2HeaderAndBindingData) {
  ScramClient client(Hash::sha256, "user", "pencil",
                     {.channel_binding = ClientChannelBinding{"tls-exporter", kExporter},
                      .nonce = "abc"});
  EXPECT_EQ(client.first(), "p=tls-exporter,,n=user,r=abc");
  auto fin = client.final("r=abcdef,s=" + std::string(kSalt) + ",i=4096");
  ASSERT_TRUE(fin);
  EXPECT_TRUE(fin->starts_with("c=" + crypto::base64_encode("p=tls-exporter,," + kExporter) +
                               ",r=abcdef,p="));
}

TEST(ScramPlus, TlsExporterDataMismatchIsNotAuthorized) {
  // A man in the middle terminates TLS twice: the two sides export different bytes.
  ScramClient client(Hash::sha256, "user", "pencil",
                     {.channel_binding = ClientChannelBinding{"tls-exporter", "other bytes"}});
  ScramServer server(Hash::sha256, true, tls_exporter_offered());
  auto out = run(client, server, pencil());
  EXPECT_FALSE(out.first_failure);
  EXPECT_EQ(out.final_failure, SaslFailure::not_authorized);
}

TEST(ScramPlus, BindingHeaderWithoutDataIsNotAuthorized) {
  ScramClient client(Hash::sha256, "user", "pencil",
                     {.channel_binding = ClientChannelBinding{"tls-exporter", ""}});
  ScramServer server(Hash::sha256, true, tls_exporter_offered());
  EXPECT_EQ(run(client, server, pencil()).final_failure, SaslFailure::not_authorized);
}

TEST(ScramPlus, TypeNotOfferedIsNotAuthorized) {
  ScramServer server(Hash::sha256, true, tls_exporter_offered());
  EXPECT_EQ(server.first("p=tls-unique,,n=user,r=abc").failure, SaslFailure::not_authorized);
}

TEST(ScramPlus, TypeOfferedButUnavailableIsNotAuthorized) {
  ScramServer server(Hash::sha256, true, tls_exporter_offered());
  EXPECT_EQ(server.first("p=tls-server-end-point,,n=user,r=abc").failure,
            SaslFailure::not_authorized);
}

TEST(ScramPlus, NoBindingFunctionIsNotAuthorized) {
  ChannelBindingInfo info = tls_exporter_offered();
  info.data = nullptr;
  ScramServer server(Hash::sha256, true, info);
  EXPECT_EQ(server.first("p=tls-exporter,,n=user,r=abc").failure, SaslFailure::not_authorized);
}

TEST(ScramPlus, NoBindingFlagSentToPlusMechanismFails) {
  ScramServer n(Hash::sha256, true, tls_exporter_offered());
  EXPECT_EQ(n.first("n,,n=user,r=abc").failure, SaslFailure::malformed_request);
  ScramServer y(Hash::sha256, true, tls_exporter_offered());
  EXPECT_EQ(y.first("y,,n=user,r=abc").failure, SaslFailure::not_authorized);
}

TEST(ScramPlus, BindingFlagSentToNonPlusMechanismIsMalformed) {
  ScramServer server(Hash::sha256, false, tls_exporter_offered());
  EXPECT_EQ(server.first("p=tls-exporter,,n=user,r=abc").failure, SaslFailure::malformed_request);
}

TEST(ScramPlus, ChannelBindingInputForAnotherHeaderIsNotAuthorized) {
  // c= must be the gs2-header seen in client-first + cbind-data; a proof that is otherwise
  // right does not help.
  ScramClient client(Hash::sha256, "user", "pencil", {.nonce = "abc"});
  ScramServer server(Hash::sha256, true, tls_exporter_offered());
  ASSERT_TRUE(server.first("p=tls-exporter,,n=user,r=abc").ok());
  (void)client.first();  // sends "n,,", so its c= is base64("n,,"): not the header we saw
  auto fin = client.final(server.server_first(pencil()));
  ASSERT_TRUE(fin);
  EXPECT_EQ(server.final(*fin).failure, SaslFailure::not_authorized);
}

// --- the "y" flag -----------------------------------------------------------------------

TEST(ScramYFlag, RefusedWhenTheServerAdvertisedPlus) {
  // RFC 5802 §6: the client saw no -PLUS, but we offered one: the list was tampered with.
  ChannelBindingInfo info = tls_exporter_offered();
  ScramClient client(Hash::sha256, "user", "pencil", {.supports_channel_binding = true});
  ScramServer server(Hash::sha256, false, info);
  EXPECT_EQ(run(client, server, pencil()).first_failure, SaslFailure::not_authorized);
}

TEST(ScramYFlag, AcceptedWhenTheServerOffersNoPlus) {
  ScramClient client(Hash::sha256, "user", "pencil",
                     {.supports_channel_binding = true, .nonce = "abc"});
  ScramServer server(Hash::sha256, false, ChannelBindingInfo{});
  EXPECT_EQ(client.first(), "y,,n=user,r=abc");
  ASSERT_TRUE(server.first("y,,n=user,r=abc").ok());
  auto client_final = client.final(server.server_first(pencil()));
  ASSERT_TRUE(client_final);
  EXPECT_TRUE(client_final->starts_with("c=eSws,"));  // base64("y,,")
  auto fin = server.final(*client_final);
  ASSERT_TRUE(fin.ok());
  EXPECT_TRUE(client.verify(fin.server_final));
}

TEST(ScramYFlag, CbindInputMustMatchTheFlagSent) {
  // The client says "y" in first but "n,," in c=: someone changed the flag in transit.
  ScramServer server(Hash::sha256, false);
  ScramClient client(Hash::sha256, "user", "pencil", {.nonce = "abc"});
  ASSERT_TRUE(server.first("y,,n=user,r=abc").ok());
  (void)client.first();
  auto fin = client.final(server.server_first(pencil()));
  ASSERT_TRUE(fin);
  EXPECT_EQ(server.final(*fin).failure, SaslFailure::not_authorized);
}

// --- authzid ----------------------------------------------------------------------------

TEST(ScramAuthzid, IsReturnedDecodedAndBoundIntoC) {
  ScramClientOptions options{.authzid = "admin,x=y@example.org", .nonce = "abc"};
  EXPECT_EQ(ScramClient(Hash::sha256, "user", "pencil", options).first(),
            "n,a=admin=2Cx=3Dy@example.org,n=user,r=abc");
  ScramClient client(Hash::sha256, "user", "pencil", options);
  ScramServer server(Hash::sha256, false);
  auto out = run(client, server, pencil());
  ASSERT_FALSE(out.first_failure);
  EXPECT_EQ(out.first.authzid, "admin,x=y@example.org");
  EXPECT_FALSE(out.final_failure);
  EXPECT_TRUE(out.client_verified);
}

TEST(ScramAuthzid, BadlyFormattedAuthzidIsInvalidAuthzid) {
  for (const std::string& message : std::vector<std::string>{"n,a=,n=user,r=abc", "n,a=ad=min,n=user,r=abc",
                              "n,a=admin=,n=user,r=abc", "n,a=a=2Db,n=user,r=abc"}) {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.first(message).failure, SaslFailure::invalid_authzid) << message;
  }
}

TEST(ScramAuthzid, AbsentAuthzidIsNullopt) {
  ScramServer server(Hash::sha256, false);
  auto first = server.first("n,,n=user,r=abc");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.authzid.has_value());
}

// --- user names -------------------------------------------------------------------------

TEST(ScramUsername, EscapesAreDecoded) {
  struct Case {
    const char* sent;
    const char* decoded;
  };
  for (auto [sent, decoded] : {Case{"us=2Cer", "us,er"}, Case{"a=3Db", "a=b"},
                               Case{"=2C=3D", ",="}, Case{"=3D2C", "=2C"}, Case{"x=2cy", "x,y"},
                               Case{"j\xc3\xbcrgen", "j\xc3\xbcrgen"}}) {
    ScramServer server(Hash::sha256, false);
    auto first = server.first("n,,n=" + std::string(sent) + ",r=abc");
    ASSERT_TRUE(first.ok()) << sent;
    EXPECT_EQ(first.username, decoded);
  }
}

TEST(ScramUsername, BadEscapesAndInvalidUtf8AreMalformed) {
  for (const std::string& name : std::vector<std::string>{"a=b", "a=", "a=2", "a=3", "a=2D", "=", "==2C", "a=3E",
                           "\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    ScramServer server(Hash::sha256, false);
    EXPECT_EQ(server.first("n,,n=" + name + ",r=abc").failure, SaslFailure::malformed_request)
        << name;
  }
}

TEST(ScramUsername, ClientEscapesAndTheServerGetsTheNameBack) {
  EXPECT_EQ(ScramClient(Hash::sha256, "od,d=name", "pencil", {.nonce = "abc"}).first(),
            "n,,n=od=2Cd=3Dname,r=abc");
  ScramClient client(Hash::sha256, "od,d=name", "pencil");
  ScramServer server(Hash::sha256, false);
  auto out = run(client, server, pencil());
  EXPECT_EQ(out.first.username, "od,d=name");
  EXPECT_TRUE(out.client_verified);
}

// --- the client's checks ----------------------------------------------------------------

TEST(ScramClient, RefusesBadServerFirstMessages) {
  std::string s = std::string(",s=") + kSalt;
  for (const std::string& server_first :
       std::vector<std::string>{"r=abcdef" + s + ",i=4095", "r=abcdef" + s + ",i=0", "r=abcdef" + s + ",i=-4096",
        "r=abcdef" + s + ",i=4096x", "r=abcdef" + s + ",i=", "r=abcdef" + s + ",i=99999999999",
        "r=abc" + s + ",i=4096", "r=xyzdef" + s + ",i=4096", "r=abcdef,s=,i=4096",
        "r=abcdef,s=***,i=4096", "r=abcdef,i=4096" + s, "m=x,r=abcdef" + s + ",i=4096",
        "r=abcdef" + s, "r=abcdef" + s + ",i=4096,m=x", "r=ab def" + s + ",i=4096",
        std::string("")}) {
    ScramClient client(Hash::sha256, "user", "pencil", {.nonce = "abc"});
    (void)client.first();
    EXPECT_FALSE(client.final(server_first)) << server_first;
  }
}

TEST(ScramClient, AcceptsServerFirstExtensions) {
  ScramClient client(Hash::sha256, "user", "pencil", {.nonce = "abc"});
  (void)client.first();
  EXPECT_TRUE(client.final("r=abcdef,s=" + std::string(kSalt) + ",i=4096,x=later"));
}

TEST(ScramClient, VerifyRefusesWrongSignatureErrorsAndOrder) {
  auto ready = [](ScramClient& client) {
    (void)client.first();
    ASSERT_TRUE(client.final("r=abcdef,s=" + std::string(kSalt) + ",i=4096"));
  };
  for (const std::string& server_final : std::vector<std::string>{std::string("e=invalid-proof"), std::string("v=AAAA"),
                                   std::string("v=***"), std::string("")}) {
    ScramClient client(Hash::sha256, "user", "pencil", {.nonce = "abc"});
    ready(client);
    EXPECT_FALSE(client.verify(server_final)) << server_final;
  }
  ScramClient early(Hash::sha256, "user", "pencil");
  EXPECT_FALSE(early.verify("v=AAAA"));
  ScramClient twice(Hash::sha256, "user", "pencil");
  EXPECT_NE(twice.first(), "");
  EXPECT_EQ(twice.first(), "");
  EXPECT_FALSE(twice.final("r=" + std::string(64, 'a') + ",s=" + kSalt + ",i=4096"));
}

}  // namespace
}  // namespace parley::server::sasl
