#include "server/dev_certs.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "server/cert_check.hpp"

namespace parley::server {
namespace {

namespace fs = std::filesystem;

template <auto Free>
struct Freer {
  template <class T>
  void operator()(T* p) const noexcept { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Freer<X509_STORE_CTX_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES_free>>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, Freer<EXTENDED_KEY_USAGE_free>>;

constexpr const char* kDomain = "example.test";

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<X509Ptr> read_certs(const fs::path& file) {
  std::vector<X509Ptr> certs;
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  while (bio) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!cert) break;
    certs.emplace_back(cert);
  }
  return certs;
}

PkeyPtr read_key(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  return PkeyPtr(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

void write_pem(const fs::path& file, const std::vector<X509*>& certs) {
  BioPtr bio(BIO_new_file(file.c_str(), "w"));
  for (X509* cert : certs) PEM_write_bio_X509(bio.get(), cert);
}

unsigned file_mode(const fs::path& file) {
  struct stat st{};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 07777;
}

/// OpenSSL's own chain verification: leaf + the rest of its PEM as intermediates.
std::string verify_error(const fs::path& chain, const fs::path& ca, int purpose) {
  auto certs = read_certs(chain);
  if (certs.empty()) return "no certificate";
  StorePtr store(X509_STORE_new());
  if (X509_STORE_load_file(store.get(), ca.c_str()) != 1) return "cannot load CA";
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509)* s) { sk_X509_free(s); });
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted.get(), certs[i].get());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), certs[0].get(), untrusted.get());
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  NamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type == GEN_DNS)
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                         ASN1_STRING_length(name->d.dNSName));
  }
  return names;
}

bool extension_critical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

/// Days from now until `time` (negative in the past), to the nearest day.
double days_from_now(const ASN1_TIME* time) {
  int days = 0, seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, time);
  return days + seconds / 86400.0;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  return all;
}

/// A fresh temporary directory per test, removed afterwards.
class CertDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "parley-certs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path pem(const std::string& stem) const { return dir_ / (stem + ".pem"); }
  fs::path key(const std::string& stem) const { return dir_ / (stem + ".key"); }
  fs::path dir_;
};

class DevCert : public CertDir {};
class CertCheck : public CertDir {};

TEST_F(DevCert, WritesCaAndHostFilesWithPrivateKeysOwnerOnly) {
  fs::path out = dir_ / "var" / "dev";
  write_dev_certificates(out, {kDomain});
  EXPECT_EQ(file_mode(out), 0755u);
  for (const char* name : {"ca.pem", "ca.key", "example.test.pem", "example.test.key"})
    EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
  EXPECT_EQ(file_mode(out / "ca.key"), 0600u);
  EXPECT_EQ(file_mode(out / "example.test.key"), 0600u);
  EXPECT_EQ(file_mode(out / "example.test.pem"), 0644u);
  // PKCS#8, not the legacy "BEGIN EC PRIVATE KEY" form.
  EXPECT_EQ(slurp(out / "example.test.key").rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_EQ(slurp(out / "ca.key").rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 4);
}

TEST_F(DevCert, HostCertificateVerifiesAgainstCaForServerAndClient) {
  write_dev_certificates(dir_, {kDomain});
  EXPECT_EQ(verify_error(pem(kDomain), pem("ca"), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_EQ(verify_error(pem(kDomain), pem("ca"), X509_PURPOSE_SSL_CLIENT), "");
  auto chain = read_certs(pem(kDomain));
  auto ca = read_certs(pem("ca"));
  ASSERT_EQ(chain.size(), 2u);
  ASSERT_EQ(ca.size(), 1u);
  EXPECT_EQ(X509_cmp(chain[1].get(), ca[0].get()), 0) << "the chain does not end in ca.pem";
  PkeyPtr host_key = read_key(key(kDomain));
  ASSERT_TRUE(host_key);
  EXPECT_EQ(X509_check_private_key(chain[0].get(), host_key.get()), 1);
}

TEST_F(DevCert, OpensslCommandLineVerifiesTheChain) {
  if (!fs::exists("/usr/bin/openssl")) GTEST_SKIP() << "/usr/bin/openssl is not installed";
  write_dev_certificates(dir_, {kDomain});
  std::string command = "/usr/bin/openssl verify -CAfile '" + pem("ca").string() +
                        "' -purpose sslserver '" + pem(kDomain).string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_TRUE(contains(output, ": OK")) << output;
}

TEST_F(DevCert, HostCertificateHasTheExpectedProfile) {
  write_dev_certificates(dir_, {kDomain});
  auto chain = read_certs(pem(kDomain));
  ASSERT_FALSE(chain.empty());
  X509* host = chain[0].get();
  EXPECT_EQ(dns_names(host), (std::vector<std::string>{"example.test", "*.example.test"}));
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(host, NID_ext_key_usage, nullptr, nullptr)));
  ASSERT_TRUE(eku);
  std::vector<int> purposes;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i)
    purposes.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i)));
  EXPECT_EQ(purposes, (std::vector<int>{NID_server_auth, NID_client_auth}));
  EXPECT_EQ(X509_check_ca(host), 0);
  EXPECT_EQ(X509_get_key_usage(host), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_TRUE(extension_critical(host, NID_key_usage));
  EXPECT_NE(X509_get0_authority_key_id(host), nullptr);
  EXPECT_EQ(X509_get_signature_nid(host), NID_ecdsa_with_SHA256);
  PkeyPtr host_key = read_key(key(kDomain));
  ASSERT_TRUE(host_key);
  EXPECT_TRUE(EVP_PKEY_is_a(host_key.get(), "EC"));
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(host_key.get(), group, sizeof group, nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  const BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(host), nullptr);
  EXPECT_GT(BN_num_bits(serial), 100);  // random: all-but-impossible to have 59 leading zeros
  EXPECT_LE(BN_num_bits(serial), 159);
  BN_free(const_cast<BIGNUM*>(serial));
  EXPECT_NEAR(days_from_now(X509_get0_notBefore(host)), -1.0 / 24, 0.01);
  EXPECT_NEAR(days_from_now(X509_get0_notAfter(host)), 730 - 1.0 / 24, 0.01);
}

TEST_F(DevCert, CaCertificateHasTheExpectedProfile) {
  write_dev_certificates(dir_, {kDomain});
  auto certs = read_certs(pem("ca"));
  ASSERT_EQ(certs.size(), 1u);
  X509* ca = certs[0].get();
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "parley development CA");
  EXPECT_EQ(X509_check_issued(ca, ca), X509_V_OK) << "not self-signed";
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_get_pathlen(ca), 0);
  EXPECT_TRUE(extension_critical(ca, NID_basic_constraints));
  EXPECT_TRUE(extension_critical(ca, NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca), nullptr);
  EXPECT_NEAR(days_from_now(X509_get0_notAfter(ca)), 3650 - 1.0 / 24, 0.01);
}

TEST_F(DevCert, SecondRunReusesTheCa) {
  write_dev_certificates(dir_, {kDomain});
  std::string ca_pem = slurp(pem("ca")), ca_key = slurp(key("ca"));
  std::string host_pem = slurp(pem(kDomain));
  write_dev_certificates(dir_, {kDomain, "second.test"});
  EXPECT_EQ(slurp(pem("ca")), ca_pem);
  EXPECT_EQ(slurp(key("ca")), ca_key);
  EXPECT_NE(slurp(pem(kDomain)), host_pem) << "host certificates are rewritten";
  EXPECT_EQ(verify_error(pem("second.test"), pem("ca"), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_EQ(verify_error(pem(kDomain), pem("ca"), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_EQ(file_mode(key("second.test")), 0600u);
}

TEST_F(DevCert, PresentOnlyWhenEveryFileIsThere) {
  EXPECT_FALSE(dev_certificates_present(dir_, {kDomain}));
  write_dev_certificates(dir_, {kDomain, "second.test"});
  EXPECT_TRUE(dev_certificates_present(dir_, {kDomain}));
  EXPECT_TRUE(dev_certificates_present(dir_, {kDomain, "second.test"}));
  EXPECT_FALSE(dev_certificates_present(dir_, {kDomain, "third.test"}));
  fs::remove(key("second.test"));
  EXPECT_FALSE(dev_certificates_present(dir_, {"second.test"}));
  fs::remove(key("ca"));
  EXPECT_FALSE(dev_certificates_present(dir_, {kDomain}));
}

TEST_F(DevCert, RefusesDomainsThatAreNotSafeFileNames) {
  for (const char* bad : {"../evil", "", "a..b", "ca", "Ca", "ex ample.test", "bücher.test"})
    EXPECT_THROW(write_dev_certificates(dir_, {bad}), std::runtime_error) << bad;
  EXPECT_TRUE(fs::is_empty(dir_)) << "nothing is written for a refused domain";
}

TEST_F(DevCert, FailureNamesThePath) {
  fs::path blocker = dir_ / "file";
  { std::ofstream(blocker) << "not a directory"; }
  try {
    write_dev_certificates(blocker, {kDomain});
    FAIL() << "a regular file was accepted as the output directory";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), blocker.string())) << e.what();
  }
}

TEST_F(DevCert, MismatchedExistingCaKeyIsAnErrorNotReplaced) {
  write_dev_certificates(dir_, {kDomain});
  fs::copy_file(key(kDomain), key("ca"), fs::copy_options::overwrite_existing);
  std::string ca_pem = slurp(pem("ca"));
  try {
    write_dev_certificates(dir_, {kDomain});
    FAIL() << "a CA key that does not match ca.pem was used";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), key("ca").string())) << e.what();
    EXPECT_TRUE(contains(e.what(), "values mismatch")) << "OpenSSL's reason: " << e.what();
  }
  EXPECT_EQ(slurp(pem("ca")), ca_pem);
}

// --- check_certificate

TEST_F(CertCheck, GoodPairHasNoProblems) {
  write_dev_certificates(dir_, {kDomain});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain, "sub.example.test"},
                                  pem("ca"));
  EXPECT_TRUE(report.problems.empty()) << joined(report.problems);
  EXPECT_EQ(report.subject, "CN=example.test");
  EXPECT_EQ(report.names, (std::vector<std::string>{"example.test", "*.example.test"}));
  auto days = std::chrono::duration_cast<std::chrono::hours>(report.not_after -
                                                             std::chrono::system_clock::now())
                  .count() / 24.0;
  EXPECT_NEAR(days, 730, 1);
}

TEST_F(CertCheck, MismatchedKeyIsReported) {
  write_dev_certificates(dir_, {kDomain, "second.test"});
  auto report = check_certificate(pem(kDomain), key("second.test"), {kDomain}, pem("ca"));
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_EQ(report.problems[0], "the private key in " + key("second.test").string() +
                                    " does not match the certificate in " + pem(kDomain).string());
}

TEST_F(CertCheck, UncoveredDomainIsReported) {
  write_dev_certificates(dir_, {kDomain});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain, "other.test"}, pem("ca"));
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_EQ(report.problems[0], "the certificate in " + pem(kDomain).string() +
                                    " does not cover other.test (it names: example.test, "
                                    "*.example.test)");
}

TEST_F(CertCheck, WildcardCoversOneWholeLeftmostLabelOnly) {
  write_dev_certificates(dir_, {kDomain});
  auto covered = check_certificate(pem(kDomain), key(kDomain), {"sub.example.test"}, pem("ca"));
  EXPECT_TRUE(covered.problems.empty()) << joined(covered.problems);
  auto deeper = check_certificate(pem(kDomain), key(kDomain), {"a.b.example.test"}, pem("ca"));
  ASSERT_EQ(deeper.problems.size(), 1u) << joined(deeper.problems);
  EXPECT_TRUE(contains(deeper.problems[0], "does not cover a.b.example.test"));
  auto suffix = check_certificate(pem(kDomain), key(kDomain), {"xexample.test"}, pem("ca"));
  EXPECT_EQ(suffix.problems.size(), 1u) << joined(suffix.problems);
}

TEST_F(CertCheck, MissingFilesAreReportedByName) {
  write_dev_certificates(dir_, {kDomain});
  auto no_chain = check_certificate(dir_ / "nope.pem", key(kDomain), {kDomain}, pem("ca"));
  ASSERT_EQ(no_chain.problems.size(), 1u) << joined(no_chain.problems);
  EXPECT_EQ(no_chain.problems[0],
            (dir_ / "nope.pem").string() + " (certificate chain) does not exist");
  auto no_key = check_certificate(pem(kDomain), dir_ / "nope.key", {kDomain}, pem("ca"));
  ASSERT_EQ(no_key.problems.size(), 1u) << joined(no_key.problems);
  EXPECT_EQ(no_key.problems[0], (dir_ / "nope.key").string() + " (private key) does not exist");
  auto no_ca = check_certificate(pem(kDomain), key(kDomain), {kDomain}, dir_ / "nope-ca.pem");
  ASSERT_EQ(no_ca.problems.size(), 1u) << joined(no_ca.problems);
  EXPECT_EQ(no_ca.problems[0], (dir_ / "nope-ca.pem").string() + " (CA file) does not exist");
}

TEST_F(CertCheck, CertificateFromAnotherCaIsReported) {
  write_dev_certificates(dir_, {kDomain});
  fs::path other = dir_ / "other";
  write_dev_certificates(other, {kDomain});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain}, other / "ca.pem");
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_TRUE(contains(report.problems[0], "the certificate chain in " + pem(kDomain).string() +
                                               " does not verify against " +
                                               (other / "ca.pem").string() + ": "))
      << report.problems[0];
  EXPECT_TRUE(contains(report.problems[0],
                       X509_verify_cert_error_string(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)))
      << report.problems[0];
}

TEST_F(CertCheck, WithoutCaFileTheSystemStoreIsUsed) {
  write_dev_certificates(dir_, {kDomain});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain}, std::nullopt);
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_TRUE(contains(report.problems[0], "does not verify against the system trust store"))
      << report.problems[0];
}

TEST_F(CertCheck, ExpiredCertificateIsReportedWithItsDate) {
  write_dev_certificates(dir_, {kDomain});
  auto chain = read_certs(pem(kDomain));
  PkeyPtr ca_key = read_key(key("ca"));
  ASSERT_TRUE(ca_key && chain.size() == 2);
  // 2021-01-01 to 2022-01-01, re-signed by the same CA so only the dates are wrong.
  ASN1_TIME_set(X509_getm_notBefore(chain[0].get()), 1609459200);
  ASN1_TIME_set(X509_getm_notAfter(chain[0].get()), 1640995200);
  ASSERT_GT(X509_sign(chain[0].get(), ca_key.get(), EVP_sha256()), 0);
  write_pem(pem(kDomain), {chain[0].get(), chain[1].get()});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain}, pem("ca"));
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_EQ(report.problems[0], "the certificate in " + pem(kDomain).string() +
                                    " expired on 2022-01-01 00:00:00 UTC");
  EXPECT_EQ(std::chrono::system_clock::to_time_t(report.not_after), 1640995200);
}

TEST_F(CertCheck, NotYetValidCertificateIsReported) {
  write_dev_certificates(dir_, {kDomain});
  auto chain = read_certs(pem(kDomain));
  PkeyPtr ca_key = read_key(key("ca"));
  ASSERT_TRUE(ca_key && chain.size() == 2);
  X509_gmtime_adj(X509_getm_notBefore(chain[0].get()), 86400 * 3);
  ASSERT_GT(X509_sign(chain[0].get(), ca_key.get(), EVP_sha256()), 0);
  write_pem(pem(kDomain), {chain[0].get(), chain[1].get()});
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain}, pem("ca"));
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_TRUE(contains(report.problems[0], "is not valid yet")) << report.problems[0];
}

TEST_F(CertCheck, UnreadableContentsAreReported) {
  write_dev_certificates(dir_, {kDomain});
  fs::path junk = dir_ / "junk.pem";
  { std::ofstream(junk) << "this is not PEM\n"; }
  fs::permissions(junk, fs::perms::owner_read | fs::perms::owner_write);
  auto no_cert = check_certificate(junk, key(kDomain), {kDomain}, pem("ca"));
  ASSERT_EQ(no_cert.problems.size(), 1u) << joined(no_cert.problems);
  EXPECT_TRUE(contains(no_cert.problems[0], junk.string() + " holds no PEM certificate"));
  auto no_key = check_certificate(pem(kDomain), junk, {kDomain}, pem("ca"));
  ASSERT_EQ(no_key.problems.size(), 1u) << joined(no_key.problems);
  EXPECT_TRUE(contains(no_key.problems[0], junk.string() + " holds no private key"))
      << no_key.problems[0];
}

TEST_F(CertCheck, KeyReadableByEveryoneIsReported) {
  write_dev_certificates(dir_, {kDomain});
  fs::permissions(key(kDomain), fs::perms::others_read, fs::perm_options::add);
  auto report = check_certificate(pem(kDomain), key(kDomain), {kDomain}, pem("ca"));
  ASSERT_EQ(report.problems.size(), 1u) << joined(report.problems);
  EXPECT_TRUE(contains(report.problems[0],
                       key(kDomain).string() + " (private key) is readable by every user"))
      << report.problems[0];
}

}  // namespace
}  // namespace parley::server
