#include "server/dev_certs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace fs = std::filesystem;

namespace parley::server {
namespace {

template <auto Free>
struct Freer {
  template <class T>
  void operator()(T* p) const noexcept { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION_free>>;

constexpr int kCaDays = 3650;           // 10 years
constexpr int kHostDays = 730;          // 2 years
constexpr long kBackdateSeconds = 3600; // tolerate clocks of peers running a little behind
constexpr int kSerialBits = 159;        // RFC 5280 §4.1.2.2: at most 20 octets, positive
constexpr int kStillValidDays = 7;
constexpr const char* kCaName = "parley development CA";

/// A private key in PEM form, wiped from memory when dropped.
struct SecretPem {
  std::string text;
  ~SecretPem() { OPENSSL_cleanse(text.data(), text.size()); }
};

/// A certificate with the key it certifies.
struct KeyedCert {
  X509Ptr cert;
  PkeyPtr key;
};

// Drains the whole thread-local queue, so a later failure does not report a stale error.
std::string openssl_errors() {
  std::string all;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!all.empty()) all += "; ";
    all += buf;
  }
  return all.empty() ? "no OpenSSL error reported" : all;
}

[[noreturn]] void fail_openssl(const fs::path& file, std::string_view what) {
  throw std::runtime_error(
      fmt::format("dev certificates: {}: {}: {}", file.string(), what, openssl_errors()));
}

[[noreturn]] void fail_system(const fs::path& file, std::string_view what, int err) {
  throw std::runtime_error(
      fmt::format("dev certificates: {}: {}: {}", file.string(), what, std::strerror(err)));
}

// Domains become file names, so anything that could leave out_dir or collide with the CA
// files is refused before a single file is written.
void validate_domain(const std::string& domain) {
  auto bad = [&](std::string_view why) {
    throw std::runtime_error(fmt::format("dev certificates: domain \"{}\" {}", domain, why));
  };
  if (domain.empty() || domain.size() > 253) bad("must be 1 to 253 characters long");
  for (unsigned char c : domain) {
    if (c >= 0x80) bad("is not ASCII; use its A-label form (xn--...)");
    if (!std::isalnum(c) && c != '-' && c != '.') bad("may hold only letters, digits, '-' and '.'");
  }
  if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string::npos)
    bad("has an empty label");
  if (domain.size() == 2 && std::tolower(static_cast<unsigned char>(domain[0])) == 'c' &&
      std::tolower(static_cast<unsigned char>(domain[1])) == 'a')
    bad("would overwrite the CA's files");
}

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  if (fs::exists(dir, ec)) fail_system(dir, "is not a directory", ENOTDIR);
  if (!fs::create_directories(dir, ec) && ec) fail_system(dir, "cannot create", ec.value());
  fs::permissions(dir, fs::perms(0755), ec);
  if (ec) fail_system(dir, "cannot set mode 0755", ec.value());
}

// The file appears complete or not at all (temporary file + rename), and the temporary
// file is created with its final mode, so a key is never readable by others, not even
// for the moment between open and chmod.
void write_file(const fs::path& file, std::string_view data, mode_t mode) {
  std::string tmp_name = fmt::format(".{}.tmp.{}", file.filename().string(), ::getpid());
  fs::path tmp = file.parent_path() / tmp_name;
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) fail_system(tmp, "cannot create", errno);
  bool ok = ::fchmod(fd, mode) == 0;  // the umask may have taken bits a certificate needs
  for (std::size_t done = 0; ok && done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int err = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    fail_system(file, "cannot write", err);
  }
}

std::string certificate_pem(const fs::path& file, X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    fail_openssl(file, "cannot encode the certificate");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

void write_private_key(const fs::path& file, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1)
    fail_openssl(file, "cannot encode the private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  SecretPem pem{std::string(data, static_cast<std::size_t>(len))};
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  write_file(file, pem.text, 0600);
}

// A passphrase callback that declines: an encrypted key must fail, not prompt on a tty.
int no_passphrase(char*, int, int, void*) { return 0; }

X509Ptr read_first_certificate(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
}

PkeyPtr read_private_key(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return nullptr;
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
}

bool valid_for_days(X509* cert, int days) {
  std::time_t then = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  return X509_cmp_current_time(X509_get0_notBefore(cert)) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &then) > 0;
}

PkeyPtr generate_key(const fs::path& file) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail_openssl(file, "cannot generate an ECDSA P-256 key");
  return key;
}

void set_random_serial(const fs::path& file, X509* cert) {
  BnPtr bn(BN_new());
  do {
    if (!bn || BN_rand(bn.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
      fail_openssl(file, "cannot draw a random serial number");
  } while (BN_is_zero(bn.get()));
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    fail_openssl(file, "cannot set the serial number");
}

// Everything but extensions, issuer and signature: version 3, serial, validity, subject, key.
X509Ptr new_certificate(const fs::path& file, const std::string& common_name, EVP_PKEY* key,
                        int days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
    fail_openssl(file, "cannot create a certificate");
  set_random_serial(file, cert.get());
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, -kBackdateSeconds, nullptr))
    fail_openssl(file, "cannot set the validity period");
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8, cn, -1,
                                 -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1)
    fail_openssl(file, "cannot set the subject");
  return cert;
}

void add_extension(const fs::path& file, X509* cert, const KeyedCert& issuer, int nid,
                   const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer.cert ? issuer.cert.get() : cert, cert, nullptr, nullptr, 0);
  X509V3_set_issuer_pkey(&ctx, issuer.key.get());
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    fail_openssl(file, fmt::format("cannot add {} = {}", OBJ_nid2sn(nid), value));
}

void sign(const fs::path& file, X509* cert, const KeyedCert& issuer) {
  X509* issuer_cert = issuer.cert ? issuer.cert.get() : cert;
  if (X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) != 1 ||
      X509_sign(cert, issuer.key.get(), EVP_sha256()) <= 0)
    fail_openssl(file, "cannot sign the certificate");
}

KeyedCert make_ca(const fs::path& file) {
  KeyedCert ca{nullptr, generate_key(file)};
  X509Ptr cert = new_certificate(file, kCaName, ca.key.get(), kCaDays);
  // The subject key identifier goes first: the authority key identifier copies it, and a
  // verifier then never mistakes another "parley development CA" for this one's issuer.
  add_extension(file, cert.get(), ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(file, cert.get(), ca, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(file, cert.get(), ca, NID_subject_key_identifier, "hash");
  add_extension(file, cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  sign(file, cert.get(), ca);
  ca.cert = std::move(cert);
  return ca;
}

KeyedCert make_host(const fs::path& file, const std::string& domain, const KeyedCert& ca) {
  KeyedCert host{nullptr, generate_key(file)};
  X509Ptr cert = new_certificate(file, domain, host.key.get(), kHostDays);
  std::string san = fmt::format("DNS:{},DNS:*.{}", domain, domain);
  add_extension(file, cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(file, cert.get(), ca, NID_key_usage, "critical,digitalSignature");
  // clientAuth too: an s2s link presents the same certificate when it connects out
  // (XEP-0178), and verifiers check the purpose.
  add_extension(file, cert.get(), ca, NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(file, cert.get(), ca, NID_subject_key_identifier, "hash");
  add_extension(file, cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  add_extension(file, cert.get(), ca, NID_subject_alt_name, san.c_str());
  sign(file, cert.get(), ca);
  host.cert = std::move(cert);
  return host;
}

// Reuse keeps every certificate issued so far trusted. A CA that has expired (or will
// before a new host certificate would) is replaced instead; a CA whose key does not match
// is an error, because silently replacing it would break every peer that trusts it.
std::optional<KeyedCert> load_ca(const fs::path& dir) {
  fs::path pem = dir / "ca.pem", key = dir / "ca.key";
  std::error_code ec;
  if (!fs::exists(pem, ec) || !fs::exists(key, ec)) return std::nullopt;
  KeyedCert ca{read_first_certificate(pem), read_private_key(key)};
  if (!ca.cert) fail_openssl(pem, "cannot read the existing CA certificate");
  if (!ca.key) fail_openssl(key, "cannot read the existing CA key");
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1)
    fail_openssl(key, fmt::format("does not match {}; remove both to create a new CA",
                                  pem.string()));
  if (!valid_for_days(ca.cert.get(), kHostDays)) return std::nullopt;
  return ca;
}

}  // namespace

void write_dev_certificates(const fs::path& out_dir, const std::vector<std::string>& domains) {
  for (const auto& domain : domains) validate_domain(domain);
  ERR_clear_error();
  ensure_directory(out_dir);
  std::optional<KeyedCert> ca = load_ca(out_dir);
  if (!ca) {
    ca = make_ca(out_dir / "ca.pem");
    // Key first: ca.pem existing without ca.key makes the next run start over.
    write_private_key(out_dir / "ca.key", ca->key.get());
    write_file(out_dir / "ca.pem", certificate_pem(out_dir / "ca.pem", ca->cert.get()), 0644);
  }
  std::string ca_pem = certificate_pem(out_dir / "ca.pem", ca->cert.get());
  for (const auto& domain : domains) {
    fs::path pem = out_dir / (domain + ".pem");
    KeyedCert host = make_host(pem, domain, *ca);
    write_private_key(out_dir / (domain + ".key"), host.key.get());
    write_file(pem, certificate_pem(pem, host.cert.get()) + ca_pem, 0644);
  }
}

bool dev_certificates_present(const fs::path& out_dir, const std::vector<std::string>& domains) {
  std::vector<std::string> stems{"ca"};
  stems.insert(stems.end(), domains.begin(), domains.end());
  bool present = true;
  for (const auto& stem : stems) {
    std::error_code ec;
    X509Ptr cert = read_first_certificate(out_dir / (stem + ".pem"));
    present = cert && valid_for_days(cert.get(), kStillValidDays) &&
              fs::is_regular_file(out_dir / (stem + ".key"), ec);
    if (!present) break;
  }
  ERR_clear_error();
  return present;
}

}  // namespace parley::server
