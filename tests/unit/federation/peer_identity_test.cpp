#include "federation/peer_identity.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace parley::federation {
namespace {

template <auto Free>
struct Freer {
  template <class T>
  void operator()(T* p) const noexcept { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Freer<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Freer<SSL_free>>;
struct CertStackFree {
  void operator()(STACK_OF(X509)* s) const noexcept { sk_X509_free(s); }
};
using CertStackPtr = std::unique_ptr<STACK_OF(X509), CertStackFree>;

// ---- certificates made in the test, with OpenSSL's API -------------------------------

EVP_PKEY* test_key() {  // one EC P-256 key serves every certificate here
  static PkeyPtr key(EVP_EC_gen("P-256"));
  return key.get();
}

struct CertSpec {
  std::vector<std::string> cns;
  std::vector<std::string> dns;   // subjectAltName dNSName, bytes as given
  std::vector<std::string> srv;   // otherName id-on-dnsSRV (IA5String)
  std::vector<std::string> xmpp;  // otherName id-on-xmppAddr (UTF8String)
  std::vector<std::string> uris;  // uniformResourceIdentifier
  bool xmpp_as_ia5 = false;       // a malformed XmppAddr (wrong string type)
  bool ca = false;
  std::vector<int> ekus;          // NIDs: NID_server_auth, NID_client_auth
  long not_before = -3600;        // seconds from now
  long not_after = 86400;
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

GENERAL_NAME* string_name(int type, const std::string& value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  GENERAL_NAME_set0_value(name, type, s);
  return name;
}

GENERAL_NAME* other_name(const char* oid, int string_type, const std::string& value) {
  ASN1_STRING* s = ASN1_STRING_type_new(string_type);
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  ASN1_TYPE* v = ASN1_TYPE_new();
  ASN1_TYPE_set(v, string_type, s);
  GENERAL_NAME* name = GENERAL_NAME_new();
  GENERAL_NAME_set0_othername(name, OBJ_txt2obj(oid, 1), v);
  return name;
}

X509Ptr make_cert(const CertSpec& spec, X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr) {
  static long serial = 1;
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_set_pubkey(cert.get(), test_key());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const auto& cn : spec.cns) {
    X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.data()),
                               static_cast<int>(cn.size()), -1, 0);
  }
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject);

  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  for (const auto& d : spec.dns) sk_GENERAL_NAME_push(names, string_name(GEN_DNS, d));
  for (const auto& u : spec.uris) sk_GENERAL_NAME_push(names, string_name(GEN_URI, u));
  for (const auto& s : spec.srv)
    sk_GENERAL_NAME_push(names, other_name("1.3.6.1.5.5.7.8.7", V_ASN1_IA5STRING, s));
  for (const auto& x : spec.xmpp)
    sk_GENERAL_NAME_push(names, other_name("1.3.6.1.5.5.7.8.5",
                                           spec.xmpp_as_ia5 ? V_ASN1_IA5STRING : V_ASN1_UTF8STRING, x));
  if (sk_GENERAL_NAME_num(names) > 0)
    X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);

  X509* signer = issuer ? issuer : cert.get();
  if (spec.ca) {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
  }
  std::string eku;
  for (int nid : spec.ekus) eku += (eku.empty() ? "" : ",") + std::string(OBJ_nid2sn(nid));
  if (!eku.empty()) add_ext(cert.get(), signer, NID_ext_key_usage, eku.c_str());
  X509_sign(cert.get(), issuer_key ? issuer_key : test_key(), EVP_sha256());
  return cert;
}

X509Ptr with_dns(std::vector<std::string> dns) {
  CertSpec spec;
  spec.dns = std::move(dns);
  return make_cert(spec);
}

CheckResult check(const X509Ptr& cert, std::string_view domain) {
  return check_peer_identity(cert.get(), domain);
}

#define EXPECT_MATCH(cert, domain)                             \
  do {                                                         \
    CheckResult r_ = check(cert, domain);                      \
    EXPECT_TRUE(r_.ok) << (domain) << ": " << r_.reason;       \
  } while (0)
#define EXPECT_NO_MATCH(cert, domain)                          \
  do {                                                         \
    CheckResult r_ = check(cert, domain);                      \
    EXPECT_FALSE(r_.ok) << (domain) << ": " << r_.reason;      \
  } while (0)

// ---- identities ------------------------------------------------------------------------

TEST(PeerIdentity, DnsIdExactAndCaseInsensitive) {
  auto cert = with_dns({"Example.COM", "xmpp.example.net"});
  EXPECT_MATCH(cert, "example.com");
  EXPECT_MATCH(cert, "EXAMPLE.com");
  EXPECT_MATCH(cert, "xmpp.example.net");
  EXPECT_NO_MATCH(cert, "www.example.com");
  EXPECT_NO_MATCH(cert, "example.co");
  EXPECT_NO_MATCH(cert, "example.net");
  EXPECT_NO_MATCH(cert, "ample.com");
}

TEST(PeerIdentity, WildcardMatchesExactlyOneLeftmostLabel) {
  auto cert = with_dns({"*.example.com"});
  EXPECT_MATCH(cert, "a.example.com");
  EXPECT_MATCH(cert, "xmpp.EXAMPLE.com");
  EXPECT_NO_MATCH(cert, "example.com");
  EXPECT_NO_MATCH(cert, "a.b.example.com");
  EXPECT_NO_MATCH(cert, ".example.com");
  EXPECT_NO_MATCH(cert, "a.example.org");
}

TEST(PeerIdentity, PartialAndMisplacedWildcardsNeverMatch) {
  EXPECT_NO_MATCH(with_dns({"f*.example.com"}), "foo.example.com");
  EXPECT_NO_MATCH(with_dns({"f*.example.com"}), "f.example.com");
  EXPECT_NO_MATCH(with_dns({"*o.example.com"}), "foo.example.com");
  EXPECT_NO_MATCH(with_dns({"f*o.example.com"}), "foo.example.com");
  EXPECT_NO_MATCH(with_dns({"a.*.example.com"}), "a.b.example.com");
  EXPECT_NO_MATCH(with_dns({"**.example.com"}), "a.example.com");
  EXPECT_NO_MATCH(with_dns({"*.*.example.com"}), "a.b.example.com");
  EXPECT_NO_MATCH(with_dns({"*"}), "com");
  EXPECT_NO_MATCH(with_dns({"*.com"}), "example.com");  // at least two labels after it
  EXPECT_NO_MATCH(with_dns({"xn--*.example.com"}), "xn--bcher-kva.example.com");
  CheckResult r = check(with_dns({"f*.example.com"}), "foo.example.com");
  EXPECT_EQ(r.reason, "certificate names f*.example.com (never matches); not foo.example.com");
}

TEST(PeerIdentity, ReasonListsWhatTheCertificateNames) {
  CheckResult r = check(with_dns({"a.test", "*.b.test"}), "c.test");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "certificate names a.test, *.b.test; not c.test");
  r = check(with_dns({"a.test", "*.b.test"}), "x.b.test");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.reason, "certificate DNS-ID *.b.test matches x.b.test");
}

TEST(PeerIdentity, CommonNameOnlyWithoutSubjectAltName) {
  CertSpec spec;
  spec.cns = {"Example.com"};
  auto cert = make_cert(spec);
  EXPECT_MATCH(cert, "example.com");
  // A whole name, never a substring or a pattern.
  EXPECT_NO_MATCH(cert, "www.example.com");
  EXPECT_NO_MATCH(cert, "notexample.com");
  EXPECT_NO_MATCH(cert, "example.co");
  EXPECT_EQ(check(cert, "other.test").reason,
            "certificate names CN=Example.com (no subjectAltName); not other.test");

  spec.cns = {"*.example.com"};
  cert = make_cert(spec);
  EXPECT_MATCH(cert, "a.example.com");
  EXPECT_NO_MATCH(cert, "example.com");

  spec.cns = {"example.com evil.test"};  // not a domain name at all
  EXPECT_NO_MATCH(make_cert(spec), "evil.test");
  EXPECT_NO_MATCH(make_cert(spec), "example.com");
}

TEST(PeerIdentity, CommonNameIgnoredWhenSubjectAltNameHasIdentifiers) {
  CertSpec spec;
  spec.cns = {"example.com"};
  spec.dns = {"other.test"};
  auto cert = make_cert(spec);
  EXPECT_MATCH(cert, "other.test");
  CheckResult r = check(cert, "example.com");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("its CN example.com is not used"), std::string::npos) << r.reason;

  // Any identifier type of RFC 6125 §6.4.4 rules the CN out, even one that never matches.
  for (int kind = 0; kind < 4; ++kind) {
    CertSpec s;
    s.cns = {"example.com"};
    if (kind == 0) s.xmpp = {"other.test"};
    if (kind == 1) s.srv = {"_xmpp-server.other.test"};
    if (kind == 2) s.uris = {"xmpp:other.test"};
    if (kind == 3) s.dns = {"f*.other.test"};
    EXPECT_NO_MATCH(make_cert(s), "example.com");
  }
}

TEST(PeerIdentity, XmppAddr) {
  CertSpec spec;
  spec.xmpp = {"example.com"};
  auto cert = make_cert(spec);
  EXPECT_MATCH(cert, "example.com");
  EXPECT_MATCH(cert, "Example.Com.");
  EXPECT_NO_MATCH(cert, "a.example.com");
  EXPECT_EQ(check(cert, "other.test").reason,
            "certificate names example.com (XmppAddr); not other.test");

  // A JID with a localpart or resource names a user or client, never a server; no wildcards.
  for (const char* jid : {"user@example.com", "example.com/server", "*.example.com"}) {
    spec.xmpp = {jid};
    EXPECT_NO_MATCH(make_cert(spec), "example.com");
  }
  spec.xmpp = {"*.example.com"};
  EXPECT_NO_MATCH(make_cert(spec), "a.example.com");

  // U-labels are allowed in an XmppAddr (a UTF8String): compared as A-labels.
  spec.xmpp = {"Bücher.example"};
  cert = make_cert(spec);
  EXPECT_MATCH(cert, "xn--bcher-kva.example");
  EXPECT_MATCH(cert, "bücher.example");

  // The wrong ASN.1 type is not an XmppAddr.
  spec.xmpp = {"example.com"};
  spec.xmpp_as_ia5 = true;
  EXPECT_NO_MATCH(make_cert(spec), "example.com");
}

TEST(PeerIdentity, SrvId) {
  CertSpec spec;
  spec.srv = {"_xmpp-server.example.com"};
  auto cert = make_cert(spec);
  EXPECT_MATCH(cert, "example.com");
  EXPECT_NO_MATCH(cert, "a.example.com");
  EXPECT_NO_MATCH(cert, "_xmpp-server.example.com");

  spec.srv = {"_XMPP-Server.Example.COM."};
  EXPECT_MATCH(make_cert(spec), "example.com");
  spec.srv = {"_xmpps-server.example.com"};  // XEP-0368
  EXPECT_MATCH(make_cert(spec), "example.com");
  spec.srv = {"_xmpp-client.example.com"};   // another service
  EXPECT_NO_MATCH(make_cert(spec), "example.com");
  spec.srv = {"_xmpp-server.*.example.com"};
  EXPECT_NO_MATCH(make_cert(spec), "a.example.com");
  spec.srv = {"_xmpp-server.*.com"};
  EXPECT_NO_MATCH(make_cert(spec), "example.com");
  spec.srv = {"xmpp-server.example.com"};
  EXPECT_NO_MATCH(make_cert(spec), "example.com");
  spec.srv = {"_xmpp-server.xn--bcher-kva.example"};
  EXPECT_MATCH(make_cert(spec), "bücher.example");
}

TEST(PeerIdentity, InternationalizedNamesCompareAsALabels) {
  auto cert = with_dns({"xn--bcher-kva.example", "*.xn--caf-dma.example"});
  EXPECT_MATCH(cert, "xn--bcher-kva.example");
  EXPECT_MATCH(cert, "bücher.example");
  EXPECT_MATCH(cert, "BÜCHER.example");
  EXPECT_MATCH(cert, "XN--BCHER-KVA.example");
  EXPECT_MATCH(cert, "xmpp.café.example");
  EXPECT_MATCH(cert, "xmpp.xn--caf-dma.example");
  EXPECT_NO_MATCH(cert, "bucher.example");
  EXPECT_NO_MATCH(cert, "café.example");
  CheckResult r = check(cert, "bucher.example");
  EXPECT_NE(r.reason.find("xn--bcher-kva.example"), std::string::npos) << r.reason;
  r = check(cert, "Bücher.example");
  EXPECT_TRUE(r.ok);

  // A dNSName is ASCII (RFC 5280 §4.2.1.6): U-labels there are malformed and never match.
  EXPECT_NO_MATCH(with_dns({"bücher.example"}), "bücher.example");
  // In a CN (a UTF8String) they are converted.
  CertSpec spec;
  spec.cns = {"bücher.example"};
  EXPECT_MATCH(make_cert(spec), "xn--bcher-kva.example");
}

TEST(PeerIdentity, TrailingDotsAreIgnored) {
  EXPECT_MATCH(with_dns({"example.com."}), "example.com");
  EXPECT_MATCH(with_dns({"example.com"}), "example.com.");
  EXPECT_MATCH(with_dns({"*.example.com."}), "a.example.com.");
  EXPECT_MATCH(with_dns({"*.example.com"}), "a.example.com.");
  EXPECT_NO_MATCH(with_dns({"example.com.."}), "example.com");
  EXPECT_NO_MATCH(with_dns({"."}), "example.com");
}

TEST(PeerIdentity, EmbeddedNulAndJunkNeverMatch) {
  EXPECT_NO_MATCH(with_dns({std::string("example.com\0.evil.test", 22)}), "example.com");
  EXPECT_NO_MATCH(with_dns({std::string("example.com\0.evil.test", 22)}), "evil.test");
  EXPECT_NO_MATCH(with_dns({""}), "example.com");
  EXPECT_NO_MATCH(with_dns({"exa mple.com"}), "exa mple.com");
  EXPECT_NO_MATCH(with_dns({"192.0.2.1"}), "192.0.2.1");
  CheckResult r = check(with_dns({std::string("a\nb.test", 8)}), "c.test");
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << "control characters are escaped";
}

TEST(PeerIdentity, RefusesWhatCannotBeChecked) {
  EXPECT_EQ(check_peer_identity(nullptr, "example.com").reason, "the peer presented no certificate");
  auto cert = with_dns({"example.com"});
  EXPECT_NO_MATCH(cert, "");
  EXPECT_NO_MATCH(cert, "*.example.com");
  EXPECT_NO_MATCH(cert, "exa mple.com");
  EXPECT_NO_MATCH(cert, "192.0.2.1");
  EXPECT_NO_MATCH(cert, "[2001:db8::1]");
  CertSpec spec;
  EXPECT_EQ(check(make_cert(spec), "example.com").reason,
            "certificate names no DNS-ID, SRV-ID, XmppAddr or CN; not example.com");
  EXPECT_EQ(ERR_peek_error(), 0ul) << "the OpenSSL error queue is left empty";
}

// ---- chains ------------------------------------------------------------------------------

struct Pki {
  Pki() {
    CertSpec root_spec;
    root_spec.cns = {"Test Root"};
    root_spec.ca = true;
    root = make_cert(root_spec);
    CertSpec inter_spec;
    inter_spec.cns = {"Test Intermediate"};
    inter_spec.ca = true;
    intermediate = make_cert(inter_spec, root.get(), test_key());
    trust.reset(X509_STORE_new());
    X509_STORE_add_cert(trust.get(), root.get());
  }
  X509Ptr leaf(std::vector<int> ekus, bool via_intermediate = false, long not_after = 86400) {
    CertSpec spec;
    spec.cns = {"a.example.com"};
    spec.dns = {"a.example.com"};
    spec.ekus = std::move(ekus);
    spec.not_after = not_after;
    if (not_after < 0) spec.not_before = not_after - 86400;
    X509* issuer = via_intermediate ? intermediate.get() : root.get();
    return make_cert(spec, issuer, test_key());
  }
  X509Ptr root, intermediate;
  StorePtr trust;
};

TEST(PeerIdentityChain, VerifiesUpToTheAnchor) {
  Pki pki;
  auto leaf = pki.leaf({NID_server_auth});
  CheckResult r = verify_chain(leaf.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.reason, "certificate chain of CN=a.example.com verifies up to CN=Test Root");
}

TEST(PeerIdentityChain, IntermediatesFromThePeer) {
  Pki pki;
  auto leaf = pki.leaf({NID_server_auth}, true);
  CheckResult r = verify_chain(leaf.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("unable to get local issuer certificate"), std::string::npos) << r.reason;
  CertStackPtr untrusted(sk_X509_new_null());
  sk_X509_push(untrusted.get(), pki.intermediate.get());
  r = verify_chain(leaf.get(), untrusted.get(), pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_TRUE(r.ok) << r.reason;
}

TEST(PeerIdentityChain, ClearReasons) {
  Pki pki;
  StorePtr empty(X509_STORE_new());
  auto leaf = pki.leaf({NID_server_auth});
  CheckResult r = verify_chain(leaf.get(), nullptr, empty.get(), ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "certificate chain does not verify: unable to get local issuer certificate "
                      "(at depth 0, CN=a.example.com)");

  auto self_signed = with_dns({"a.example.com"});
  r = verify_chain(self_signed.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("self-signed certificate"), std::string::npos) << r.reason;

  auto expired = pki.leaf({NID_server_auth}, false, -3600);
  r = verify_chain(expired.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("certificate has expired"), std::string::npos) << r.reason;

  EXPECT_EQ(verify_chain(nullptr, nullptr, pki.trust.get(), ChainPurpose::any).reason,
            "the peer presented no certificate");
  EXPECT_FALSE(verify_chain(leaf.get(), nullptr, nullptr, ChainPurpose::any).ok);
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

TEST(PeerIdentityChain, Purpose) {
  Pki pki;
  auto server_only = pki.leaf({NID_server_auth});
  CheckResult r = verify_chain(server_only.get(), nullptr, pki.trust.get(), ChainPurpose::tls_client);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("unsuitable certificate purpose"), std::string::npos) << r.reason;
  EXPECT_TRUE(verify_chain(server_only.get(), nullptr, pki.trust.get(), ChainPurpose::any).ok);

  auto both = pki.leaf({NID_server_auth, NID_client_auth});
  EXPECT_TRUE(verify_chain(both.get(), nullptr, pki.trust.get(), ChainPurpose::tls_client).ok);
  EXPECT_TRUE(verify_chain(both.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server).ok);

  auto client_only = pki.leaf({NID_client_auth});
  EXPECT_FALSE(verify_chain(client_only.get(), nullptr, pki.trust.get(), ChainPurpose::tls_server).ok);
}

// A real handshake in memory: the outbound side checks the server it reached, the inbound
// side the client that reached it, both through the SSL object as s2s sessions will.
TEST(PeerIdentityChain, AuthenticatePeerAfterAHandshake) {
  Pki pki;
  auto server_leaf = pki.leaf({NID_server_auth, NID_client_auth}, true);
  auto client_leaf = pki.leaf({NID_server_auth, NID_client_auth});

  SslCtxPtr server_ctx(SSL_CTX_new(TLS_server_method()));
  ASSERT_EQ(SSL_CTX_use_certificate(server_ctx.get(), server_leaf.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx.get(), test_key()), 1);
  ASSERT_EQ(SSL_CTX_add1_chain_cert(server_ctx.get(), pki.intermediate.get()), 1);
  // As s2s will: ask for a certificate, accept any, decide after the handshake.
  SSL_CTX_set_verify(server_ctx.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  ASSERT_EQ(SSL_CTX_use_certificate(client_ctx.get(), client_leaf.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(client_ctx.get(), test_key()), 1);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);

  SslPtr server(SSL_new(server_ctx.get()));
  SslPtr client(SSL_new(client_ctx.get()));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&server_bio, 0, &client_bio, 0), 1);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  bool done = false;
  for (int i = 0; i < 50 && !done; ++i) {
    int c = SSL_do_handshake(client.get());
    int s = SSL_do_handshake(server.get());
    done = c == 1 && s == 1;
  }
  ASSERT_TRUE(done) << "handshake did not finish";

  CheckResult r = authenticate_peer(client.get(), "a.example.com", pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_TRUE(r.ok) << r.reason;
  r = authenticate_peer(client.get(), "b.example.com", pki.trust.get(), ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "certificate names a.example.com; not b.example.com");
  // Without a trust store argument, the SSL_CTX's (empty here) is used.
  r = authenticate_peer(client.get(), "a.example.com", nullptr, ChainPurpose::tls_server);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("unable to get local issuer certificate"), std::string::npos) << r.reason;

  // The inbound side: the peer's chain as a server sees it excludes the leaf.
  r = verify_chain(server.get(), pki.trust.get(), ChainPurpose::tls_client);
  EXPECT_TRUE(r.ok) << r.reason;
  r = authenticate_peer(server.get(), "a.example.com", pki.trust.get(), ChainPurpose::tls_client);
  EXPECT_TRUE(r.ok) << r.reason;
  ERR_clear_error();
}

}  // namespace
}  // namespace parley::federation
