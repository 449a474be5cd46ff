#pragma once
// SASL (RFC 4422) as XMPP uses it (RFC 6120 §6): the mechanisms parley offers, their wire
// names, the order they are offered in, and the failure conditions an exchange can end with.
// The mechanisms themselves are pure state machines in scram.hpp and plain.hpp: no I/O, no
// database; the c2s session drives them and looks credentials up between steps.
//
// Thread-safety: every function here is pure and may be called from any thread.

#include <optional>
#include <string_view>
#include <vector>

#include "server/crypto.hpp"

namespace parley::server::sasl {

/// The mechanisms parley implements, in preference order (strongest first). The -PLUS
/// variants use channel binding (RFC 5802 §6, RFC 9266 tls-exporter); PLAIN (RFC 4616)
/// is for clients that cannot do SCRAM, and only over TLS.
enum class Mechanism { scram_sha_256_plus, scram_sha_1_plus, scram_sha_256, scram_sha_1, plain };

/// Why an exchange failed; each value is one RFC 6120 §6.5 condition (see
/// failure_condition()). The session sends <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>
/// with that child element.
enum class SaslFailure {
  aborted,                 ///< §6.5.1  the client sent <abort/>
  account_disabled,        ///< §6.5.2  the account exists but is disabled
  credentials_expired,     ///< §6.5.3  the credentials have expired
  encryption_required,     ///< §6.5.4  the mechanism needs TLS first (PLAIN in clear)
  incorrect_encoding,      ///< §6.5.5  the XML character data was not valid base64
  invalid_authzid,         ///< §6.5.6  the authzid is malformed or not permitted
  invalid_mechanism,       ///< §6.5.7  a mechanism we do not offer
  malformed_request,       ///< §6.5.8  the mechanism's message does not follow its grammar
  mechanism_too_weak,      ///< §6.5.9  the account's policy needs a stronger mechanism
  not_authorized,          ///< §6.5.10 wrong credentials (or an unknown account: same reply)
  temporary_auth_failure,  ///< §6.5.11 e.g. the database is unavailable
};

/// The RFC 6120 §6.5 element name: "not-authorized", "malformed-request", ...
std::string_view failure_condition(SaslFailure failure);

/// The IANA mechanism name ("SCRAM-SHA-256-PLUS", ..., "PLAIN").
std::string_view name(Mechanism mechanism);

/// The mechanism with this exact name. SASL names are upper case (RFC 4422 §3.1) and are
/// compared as sent: "scram-sha-1" is not a mechanism.
std::optional<Mechanism> mechanism_from_name(std::string_view name);

/// The hash a SCRAM mechanism uses; nullopt for PLAIN.
std::optional<crypto::Hash> scram_hash(Mechanism mechanism);

/// True for the channel-binding (-PLUS) variants.
bool is_plus(Mechanism mechanism);

/// What to advertise in <mechanisms/>, most preferred first. -PLUS only when TLS is active
/// and the connection can produce channel-binding data (RFC 9266 tls-exporter needs the
/// TLS exporter; RFC 5802 §6); PLAIN only over TLS (RFC 6120 §6.4.2 and §13.8: it sends
/// the password itself). Without TLS only SCRAM-SHA-256 and SCRAM-SHA-1 are offered.
std::vector<Mechanism> offered(bool tls_active, bool channel_binding_available);

/// Strict UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing above U+10FFFF.
/// NUL is valid UTF-8 here; the mechanisms' grammars refuse it themselves. Shared by the
/// mechanisms' parsers.
bool valid_utf8(std::string_view text);

}  // namespace parley::server::sasl
