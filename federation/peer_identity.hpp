#pragma once
// Who is at the other end of an s2s link: the certificate checks of XEP-0178 (SASL
// EXTERNAL between servers) and RFC 7590, after RFC 6125.
//
// Authenticating a peer is two independent questions, answered by two functions here:
//   - verify_chain: does the certificate chain up to a trust anchor, for the right purpose?
//   - check_peer_identity: does the certificate name the XMPP domain we expect?
// authenticate_peer asks both about a finished TLS handshake. The TLS layer itself should
// accept any certificate (the s2s session decides afterwards, so that it can fall back to
// dialback, XEP-0220, or close with a precise stream error).
//
// Identities (RFC 6125 §6, RFC 6120 §13.7.1.2, RFC 7590 §3.2), compared as A-labels in
// lower case, a trailing dot ignored:
//   - DNS-ID: subjectAltName dNSName. Exact match; a wildcard only as the whole leftmost
//     label ("*.example.com"), matching exactly one label, with at least two labels after
//     it. "f*.example.com", "*f.example.com", "a.*.example.com" and "*.com" never match.
//   - SRV-ID: subjectAltName otherName id-on-dnsSRV (RFC 4985), "_xmpp-server.example.com"
//     (also "_xmpps-server.example.com", XEP-0368). No wildcards.
//   - XmppAddr: subjectAltName otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5), a UTF8String
//     holding a bare domain (U-labels allowed); a JID with a localpart or resource never
//     identifies a server. No wildcards.
//   - CN-ID: the subject's commonName, used ONLY when the certificate has no DNS-ID, SRV-ID,
//     XmppAddr or URI-ID at all (RFC 6125 §6.4.4); matched like a DNS-ID, as a whole name,
//     never as a substring.
// A domain that is an IP address is never matched (no IP-ID support).
//
// Functions only, no shared state: thread-safe. They never throw but std::bad_alloc, and
// leave OpenSSL's error queue empty.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>

namespace parley::federation {

/// The answer to one check: `ok`, and a sentence for logs and stream errors either way,
/// e.g. "certificate names a.test, *.b.test; not c.test".
struct CheckResult {
  bool ok = false;
  std::string reason;
  explicit operator bool() const { return ok; }
};

/// Does `cert` name `domain` (RFC 6125 with the XMPP identifier types above)? `domain` may
/// be given as U-labels or A-labels, in any case, with or without a trailing dot.
CheckResult check_peer_identity(X509* cert, std::string_view domain);

/// What the chain must be good for. A peer that connected to us presents its certificate
/// as a TLS client, and many CAs no longer put clientAuth in server certificates: s2s code
/// commonly checks `tls_server` in both directions, as other XMPP servers do.
enum class ChainPurpose { tls_server, tls_client, any };

/// Verifies `leaf` against the anchors in `trust`, with `untrusted` (may be null) as the
/// intermediates the peer sent. Checks signatures, validity dates (now), basic
/// constraints and, unless `any`, the extended key usage for `purpose`. The reason names
/// OpenSSL's verdict, the depth and the subject of the certificate it concerns.
CheckResult verify_chain(X509* leaf, STACK_OF(X509)* untrusted, X509_STORE* trust,
                         ChainPurpose purpose);

/// verify_chain for the peer of a finished handshake: its certificate and the chain it
/// sent. `trust` null means the trust store of the SSL's context.
CheckResult verify_chain(SSL* ssl, X509_STORE* trust, ChainPurpose purpose);

/// verify_chain(ssl, ...) and then check_peer_identity for `domain`; the first failure,
/// or a reason that sums up both successes.
CheckResult authenticate_peer(SSL* ssl, std::string_view domain, X509_STORE* trust,
                              ChainPurpose purpose);

}  // namespace parley::federation
