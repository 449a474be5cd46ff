#include "server/cert_check.hpp"

#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
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
using StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Freer<X509_STORE_CTX_free>>;
struct CertStackFree {  // sk_X509_free is a macro, so it cannot be a template argument
  void operator()(STACK_OF(X509)* stack) const noexcept { sk_X509_free(stack); }
};
using CertStackPtr = std::unique_ptr<STACK_OF(X509), CertStackFree>;  // does not own the certs
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES_free>>;

using Problems = std::vector<std::string>;

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

// Declines: an encrypted key must be reported, not prompted for on a terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

// Missing and unreadable files are told apart, since the fixes differ (a typo in the
// config versus permissions).
BioPtr open_file(const fs::path& file, std::string_view what, Problems& problems) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    problems.push_back(fmt::format("{} ({}) does not exist", file.string(), what));
    return nullptr;
  }
  if (!fs::is_regular_file(file, ec)) {
    problems.push_back(fmt::format("{} ({}) is not a regular file", file.string(), what));
    return nullptr;
  }
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio)
    problems.push_back(
        fmt::format("{} ({}) cannot be read: {}", file.string(), what, openssl_errors()));
  return bio;
}

// Reading stops at the first PEM block that is not a certificate parse; running out of
// PEM blocks (PEM_R_NO_START_LINE) is the normal end, anything else is a broken block.
std::vector<X509Ptr> read_chain(const fs::path& file, Problems& problems) {
  std::vector<X509Ptr> certs;
  BioPtr bio = open_file(file, "certificate chain", problems);
  if (!bio) return certs;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr))
    certs.emplace_back(cert);
  unsigned long last = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!clean_end && last != 0) {
    problems.push_back(fmt::format("{}: certificate number {} cannot be parsed: {}",
                                   file.string(), certs.size() + 1, openssl_errors()));
  } else if (certs.empty()) {
    problems.push_back(fmt::format(
        "{} holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" block)", file.string()));
  }
  ERR_clear_error();
  return certs;
}

// Only "others" is checked: a key shared with a service group (0640 root:ssl-cert) is a
// common, deliberate setup.
PkeyPtr read_key(const fs::path& file, Problems& problems) {
  BioPtr bio = open_file(file, "private key", problems);
  if (!bio) return nullptr;
  struct stat st{};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0)
    problems.push_back(fmt::format(
        "{} (private key) is readable by every user (mode {:04o}); run: chmod o-rwx {}",
        file.string(), st.st_mode & 07777, file.string()));
  ERR_clear_error();
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key)
    problems.push_back(fmt::format(
        "{} holds no private key parley can read (an unencrypted PEM key is needed): {}",
        file.string(), openssl_errors()));
  return key;
}

std::string format_time(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "an unreadable date";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::string subject_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
    return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// The CN counts only when there is no DNS name in subjectAltName, as for X509_check_host.
std::vector<std::string> dns_names_of(X509* cert) {
  std::vector<std::string> names;
  NamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_STRING* dns = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<std::size_t>(ASN1_STRING_length(dns)));
  }
  if (!names.empty()) return names;
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                       static_cast<std::size_t>(ASN1_STRING_length(cn)));
  }
  return names;
}

/// Returns true when the leaf is outside its validity period (already reported).
bool check_dates(const fs::path& file, X509* leaf, Problems& problems) {
  const ASN1_TIME* not_before = X509_get0_notBefore(leaf);
  const ASN1_TIME* not_after = X509_get0_notAfter(leaf);
  if (X509_cmp_current_time(not_before) >= 0) {
    problems.push_back(fmt::format("the certificate in {} is not valid yet: its validity starts {}",
                                   file.string(), format_time(not_before)));
    return true;
  }
  if (X509_cmp_current_time(not_after) <= 0) {
    problems.push_back(fmt::format("the certificate in {} expired on {}", file.string(),
                                   format_time(not_after)));
    return true;
  }
  return false;
}

// NO_PARTIAL_WILDCARDS: "*.example.org" matches "a.example.org" but "f*.example.org" is
// refused, and a wildcard never spans labels (RFC 6125 §6.4.3; XMPP: RFC 7590 §3.2).
void check_domains(const fs::path& file, X509* leaf, const std::vector<std::string>& names,
                   const std::vector<std::string>& domains, Problems& problems) {
  for (const auto& domain : domains) {
    if (X509_check_host(leaf, domain.data(), domain.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                        nullptr) == 1)
      continue;
    std::string named = names.empty() ? "no DNS name" : fmt::format("{}", fmt::join(names, ", "));
    problems.push_back(fmt::format("the certificate in {} does not cover {} (it names: {})",
                                   file.string(), domain, named));
  }
}

// Loads the trust anchors; on failure reports and returns nullptr.
StorePtr trust_store(const std::optional<fs::path>& ca_file, Problems& problems) {
  StorePtr store(X509_STORE_new());
  if (!store) return nullptr;
  if (!ca_file) {
    if (X509_STORE_set_default_paths(store.get()) == 1) return store;
    problems.push_back(
        fmt::format("the system trust store cannot be loaded: {}", openssl_errors()));
    return nullptr;
  }
  BioPtr probe = open_file(*ca_file, "CA file", problems);
  if (!probe) return nullptr;
  if (X509_STORE_load_file(store.get(), ca_file->c_str()) == 1) return store;
  problems.push_back(fmt::format("{} (CA file) holds no usable certificate: {}",
                                 ca_file->string(), openssl_errors()));
  return nullptr;
}

// The rest of the PEM after the leaf are untrusted intermediates, exactly as a TLS peer
// receives them. Dates are skipped when check_dates already reported the leaf's, so one
// cause is not reported twice.
void check_chain(const fs::path& file, const std::vector<X509Ptr>& certs,
                 const std::optional<fs::path>& ca_file, bool skip_dates, Problems& problems) {
  StorePtr store = trust_store(ca_file, problems);
  if (!store) return;
  CertStackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) return;
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted.get(), certs[i].get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), certs.front().get(), untrusted.get()) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    problems.push_back(fmt::format("the chain in {} cannot be checked: {}", file.string(),
                                   openssl_errors()));
    return;
  }
  if (skip_dates) X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) == 1) return;
  int error = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string anchors = ca_file ? ca_file->string() : std::string("the system trust store");
  problems.push_back(fmt::format(
      "the certificate chain in {} does not verify against {}: {} (at depth {}{})", file.string(),
      anchors, X509_verify_cert_error_string(error), depth,
      at ? fmt::format(", {}", subject_of(at)) : std::string()));
}

}  // namespace

CertificateReport check_certificate(const fs::path& chain_pem, const fs::path& key_pem,
                                    const std::vector<std::string>& domains,
                                    const std::optional<fs::path>& ca_file) {
  CertificateReport report;
  try {
    std::vector<X509Ptr> certs = read_chain(chain_pem, report.problems);
    PkeyPtr key = read_key(key_pem, report.problems);
    if (!certs.empty()) {
      X509* leaf = certs.front().get();
      report.subject = subject_of(leaf);
      report.names = dns_names_of(leaf);
      report.not_after = to_time_point(X509_get0_notAfter(leaf));
      if (key && X509_check_private_key(leaf, key.get()) != 1)
        report.problems.push_back(
            fmt::format("the private key in {} does not match the certificate in {}",
                        key_pem.string(), chain_pem.string()));
      bool dates_reported = check_dates(chain_pem, leaf, report.problems);
      check_domains(chain_pem, leaf, report.names, domains, report.problems);
      check_chain(chain_pem, certs, ca_file, dates_reported, report.problems);
    }
  } catch (const std::exception& e) {
    report.problems.push_back(fmt::format("checking {} failed: {}", chain_pem.string(), e.what()));
  }
  ERR_clear_error();
  return report;
}

}  // namespace parley::server
