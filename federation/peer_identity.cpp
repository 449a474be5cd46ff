#include "federation/peer_identity.hpp"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "federation/domain_name.hpp"
#include "server/jid.hpp"

namespace parley::federation {
namespace {

template <auto Free>
struct Freer {
  template <class T>
  void operator()(T* p) const noexcept { Free(p); }
};
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Freer<X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;

// Leaves OpenSSL's per-thread error queue empty on every way out, so that a failed check
// does not surface later as the "reason" of an unrelated TLS error on this thread.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

std::string_view bytes_of(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(std::max(0, ASN1_STRING_length(s)))};
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Names come from the peer: control characters are escaped so that a hostile certificate
// cannot forge log lines; UTF-8 is kept, overlong names are cut.
std::string printable(std::string_view raw) {
  constexpr std::size_t kMax = 255;
  std::string out;
  for (unsigned char c : raw.substr(0, kMax)) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (raw.size() > kMax) out += "...";
  return out;
}

std::string subject_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
    return "an unreadable subject";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return "an empty subject";
  return printable(std::string_view(data, static_cast<std::size_t>(len)));
}

enum class Kind { dns, srv, xmpp, cn };

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::dns: return "DNS-ID";
    case Kind::srv: return "SRV-ID";
    case Kind::xmpp: return "XmppAddr";
    case Kind::cn: return "CN";
  }
  return "?";
}

struct Presented {
  Kind kind;
  std::string raw;                       // as the certificate has it, for reasons
  std::optional<std::string> canonical;  // comparable form; nullopt: can never match
};

// A DNS-ID or CN-ID in comparable form: A-labels, lower case, no trailing dot, with a
// leading "*." kept for the one wildcard form RFC 6125 §6.4.3 allows (RFC 7590 §3.2
// forbids the rest). RFC 5280 §4.2.1.6: a dNSName is ASCII (IA5String, A-labels).
std::optional<std::string> canonical_dns(std::string_view raw, bool ascii_only) {
  if (raw.empty() || raw.find('\0') != std::string_view::npos) return std::nullopt;
  if (ascii_only && !is_ascii(raw)) return std::nullopt;
  if (raw.back() == '.') raw.remove_suffix(1);  // one root dot, as in a DNS name
  if (raw.empty() || raw.back() == '.') return std::nullopt;
  bool wildcard = raw.starts_with("*.");
  std::string_view rest = wildcard ? raw.substr(2) : raw;
  // "f*.example.com", "*f.example.com", "a.*.example.com", "**.example.com": never.
  if (rest.find('*') != std::string_view::npos) return std::nullopt;
  // "*.com": a wildcard needs at least two labels after it.
  if (wildcard && rest.find('.') == std::string_view::npos) return std::nullopt;
  std::optional<std::string> ascii = to_ascii_domain(rest);
  if (!ascii || is_ip_literal(*ascii)) return std::nullopt;
  return wildcard ? "*." + *ascii : *ascii;
}

// RFC 4985 SRVName "_Service.Name"; for XMPP servers the services of RFC 6120 §3.2.1 and
// XEP-0368. No wildcards: RFC 6125 allows them in DNS-IDs (and CN-IDs) only.
std::optional<std::string> canonical_srv(std::string_view raw) {
  if (!is_ascii(raw) || raw.find('\0') != std::string_view::npos) return std::nullopt;
  std::size_t dot = raw.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string service = lower_ascii(raw.substr(0, dot));
  if (service != "_xmpp-server" && service != "_xmpps-server") return std::nullopt;
  std::optional<std::string> name = canonical_dns(raw.substr(dot + 1), true);
  if (!name || name->starts_with("*.")) return std::nullopt;
  return name;
}

// RFC 6120 §13.7.1.4: an XmppAddr is a JID in UTF-8; a server is named by a bare domain.
std::optional<std::string> canonical_xmpp(std::string_view raw) {
  if (raw.find('\0') != std::string_view::npos) return std::nullopt;
  std::optional<server::Jid> jid = server::Jid::parse(raw);
  if (!jid || jid->has_local() || jid->has_resource()) return std::nullopt;
  std::optional<std::string> ascii = to_ascii_domain(jid->domain());
  if (!ascii || is_ip_literal(*ascii)) return std::nullopt;
  return ascii;
}

struct Identities {
  std::vector<Presented> names;  // subjectAltName identifiers, or the CNs when allowed
  std::vector<std::string> ignored_cns;  // CNs present but not usable (RFC 6125 §6.4.4)
};

std::vector<std::string> common_names(X509* cert) {
  std::vector<std::string> cns;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) continue;
    cns.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
  }
  return cns;
}

Identities collect(X509* cert) {
  Identities ids;
  bool has_uri = false;
  NamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    switch (name->type) {
      case GEN_DNS: {
        std::string_view raw = bytes_of(name->d.dNSName);
        ids.names.push_back({Kind::dns, printable(raw), canonical_dns(raw, true)});
        break;
      }
      case GEN_URI:
        has_uri = true;  // a URI-ID is never matched here, but it rules out the CN
        break;
      case GEN_OTHERNAME: {
        const OTHERNAME* other = name->d.otherName;
        int nid = OBJ_obj2nid(other->type_id);
        const ASN1_TYPE* value = other->value;
        // A malformed identifier still counts as presented (and so still rules out the
        // CN): it just never matches.
        if (nid == NID_XmppAddr) {
          if (value != nullptr && value->type == V_ASN1_UTF8STRING) {
            std::string_view raw = bytes_of(value->value.utf8string);
            ids.names.push_back({Kind::xmpp, printable(raw), canonical_xmpp(raw)});
          } else {
            ids.names.push_back({Kind::xmpp, "(not a UTF8String)", std::nullopt});
          }
        } else if (nid == NID_SRVName) {
          if (value != nullptr && value->type == V_ASN1_IA5STRING) {
            std::string_view raw = bytes_of(value->value.ia5string);
            ids.names.push_back({Kind::srv, printable(raw), canonical_srv(raw)});
          } else {
            ids.names.push_back({Kind::srv, "(not an IA5String)", std::nullopt});
          }
        }
        break;
      }
      default:
        break;  // iPAddress, email, ...: not identifiers of an XMPP service
    }
  }
  std::vector<std::string> cns = common_names(cert);
  // RFC 6125 §6.4.4: the CN only when no DNS-ID, SRV-ID, URI-ID or application-specific
  // identifier (XmppAddr) is presented.
  if (ids.names.empty() && !has_uri) {
    for (const auto& cn : cns) ids.names.push_back({Kind::cn, printable(cn), canonical_dns(cn, false)});
  } else {
    ids.ignored_cns = std::move(cns);
  }
  return ids;
}

bool dns_id_matches(std::string_view id, std::string_view domain) {
  if (id.starts_with("*.")) {
    std::string_view suffix = id.substr(1);  // ".example.com"
    if (domain.size() <= suffix.size() || !domain.ends_with(suffix)) return false;
    std::string_view label = domain.substr(0, domain.size() - suffix.size());
    return !label.empty() && label.find('.') == std::string_view::npos;  // exactly one label
  }
  return id == domain;
}

bool matches(const Presented& p, std::string_view domain) {
  if (!p.canonical) return false;
  if (p.kind == Kind::dns || p.kind == Kind::cn) return dns_id_matches(*p.canonical, domain);
  return *p.canonical == domain;
}

std::string describe(const Identities& ids) {
  if (ids.names.empty()) return "certificate names no DNS-ID, SRV-ID, XmppAddr or CN";
  bool cn_only = ids.names.front().kind == Kind::cn;
  std::string out = "certificate names ";
  for (std::size_t i = 0; i < ids.names.size(); ++i) {
    const Presented& p = ids.names[i];
    if (i != 0) out += ", ";
    if (p.kind == Kind::cn) out += "CN=";
    out += p.raw;
    if (p.kind == Kind::srv || p.kind == Kind::xmpp) out += fmt::format(" ({})", kind_name(p.kind));
    if (!p.canonical) out += " (never matches)";
  }
  if (cn_only) out += " (no subjectAltName)";
  return out;
}

int purpose_id(ChainPurpose purpose) {
  return purpose == ChainPurpose::tls_client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER;
}

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

}  // namespace

CheckResult check_peer_identity(X509* cert, std::string_view domain) {
  ErrorQueueGuard guard;
  if (cert == nullptr) return {false, "the peer presented no certificate"};
  std::string shown = printable(domain);
  if (is_ip_literal(domain)) {
    return {false, fmt::format("{} is an IP address; peer certificates are checked for domain "
                               "names only", shown)};
  }
  std::optional<std::string> expected = to_ascii_domain(domain);
  if (!expected) return {false, fmt::format("'{}' is not a valid domain name", shown)};
  if (lower_ascii(shown) != *expected) shown += fmt::format(" ({})", *expected);

  Identities ids = collect(cert);
  for (const Presented& p : ids.names) {
    if (matches(p, *expected)) {
      return {true, fmt::format("certificate {} {} matches {}", kind_name(p.kind), p.raw, shown)};
    }
  }
  std::string reason = fmt::format("{}; not {}", describe(ids), shown);
  for (const auto& cn : ids.ignored_cns) {
    std::optional<std::string> canonical = canonical_dns(cn, false);
    if (canonical && dns_id_matches(*canonical, *expected)) {
      reason += fmt::format(" (its CN {} is not used because it has subjectAltName "
                            "identifiers, RFC 6125 §6.4.4)", printable(cn));
      break;
    }
  }
  return {false, std::move(reason)};
}

CheckResult verify_chain(X509* leaf, STACK_OF(X509)* untrusted, X509_STORE* trust,
                         ChainPurpose purpose) {
  ErrorQueueGuard guard;
  if (leaf == nullptr) return {false, "the peer presented no certificate"};
  if (trust == nullptr) return {false, "no trust anchors to verify the peer's certificate against"};
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust, leaf, untrusted) != 1 ||
      (purpose != ChainPurpose::any &&
       X509_STORE_CTX_set_purpose(ctx.get(), purpose_id(purpose)) != 1)) {
    return {false, "the certificate chain cannot be checked: " + openssl_errors()};
  }
  if (X509_verify_cert(ctx.get()) == 1) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    X509* top = chain ? sk_X509_value(chain, sk_X509_num(chain) - 1) : leaf;
    return {true, fmt::format("certificate chain of {} verifies up to {}", subject_of(leaf),
                              subject_of(top))};
  }
  int error = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
  return {false, fmt::format("certificate chain does not verify: {} (at depth {}, {})",
                             X509_verify_cert_error_string(error), depth,
                             subject_of(at ? at : leaf))};
}

CheckResult verify_chain(SSL* ssl, X509_STORE* trust, ChainPurpose purpose) {
  if (ssl == nullptr) return {false, "no TLS connection"};
  if (trust == nullptr) trust = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
  // The chain as sent: a client's view includes the leaf, a server's does not; either way
  // it only offers intermediates, never anchors.
  return verify_chain(SSL_get0_peer_certificate(ssl), SSL_get_peer_cert_chain(ssl), trust,
                      purpose);
}

CheckResult authenticate_peer(SSL* ssl, std::string_view domain, X509_STORE* trust,
                              ChainPurpose purpose) {
  CheckResult chain = verify_chain(ssl, trust, purpose);
  if (!chain) return chain;
  CheckResult identity = check_peer_identity(SSL_get0_peer_certificate(ssl), domain);
  if (!identity) return identity;
  return {true, chain.reason + "; " + identity.reason};
}

}  // namespace parley::federation
