#pragma once
// The Asio-free rules of server-to-server streams, shared by both directions and
// unit-tested on their own: element tests for the negotiation (RFC 6120 §4.3, §5, §6;
// XEP-0178), the SASL EXTERNAL authorization identity, and what an authenticated peer may
// send (RFC 6120 §4.9.3.9 host-unknown, §4.9.3.10 improper-addressing, §4.9.3.11
// invalid-from).
//
// Pure functions: thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "server/stanza.hpp"
#include "server/xml/element.hpp"

namespace parley::federation {

inline constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
/// XEP-0220: the dialback namespace (prefix "db") and its stream feature.
inline constexpr std::string_view kDialbackNs = "jabber:server:dialback";
inline constexpr std::string_view kDialbackFeatureNs = "urn:xmpp:features:dialback";

/// XEP-0288: the feature a receiving server offers, and the request that enables it.
inline constexpr std::string_view kBidiFeature = "<bidi xmlns='urn:xmpp:features:bidi'/>";
inline constexpr std::string_view kBidiFeatureNs = "urn:xmpp:features:bidi";
inline constexpr std::string_view kBidiNs = "urn:xmpp:bidi";

/// The element of a stanza that arrived in the jabber:server namespace, in the
/// jabber:client namespace that the rest of the server uses (RFC 6120 §4.8.3: a stanza's
/// namespace is its stream's); descendants in jabber:server too. Going out, the serializer
/// writes jabber:client elements without a declaration into a jabber:server stream.
server::xml::Element to_client_namespace(server::xml::Element element);

/// <stream:features/>.
bool is_features(const server::xml::Element& e);
/// <stream:error/>.
bool is_stream_error(const server::xml::Element& e);
/// "condition: text" of a <stream:error/> (or of a SASL <failure/>), for logs.
std::string error_summary(const server::xml::Element& e);
/// Whether <stream:features/> offers the SASL mechanism `name`.
bool offers_mechanism(const server::xml::Element& features, std::string_view name);

/// The outcome of a peer's <auth mechanism='EXTERNAL'>: the domain it asks to be, or the
/// SASL failure condition (RFC 6120 §6.5). `claimed` is the stream header's 'from' (may be
/// empty); `payload` the element's text. The authzid must be empty ("=") or the domain the
/// certificate was checked for (XEP-0178 §3 step 6).
struct ExternalOutcome {
  std::string domain;      ///< set on success
  std::string_view failure;  ///< e.g. "invalid-authzid", "incorrect-encoding"
};
ExternalOutcome check_external_auth(std::string_view payload, std::string_view claimed);

/// XEP-0220 elements, written with the customary "db" prefix (declared on the element):
/// the Originating Server's request <db:result from to>KEY</db:result> (§2.1.2), the
/// Receiving Server's verdict <db:result type='valid|invalid'/> (§2.4), and the verify
/// request and answer between Receiving and Authoritative Server, tied by 'id' (§2.3, §2.4).
std::string dialback_result_request(std::string_view from, std::string_view to, std::string_view key);
std::string dialback_result_answer(std::string_view from, std::string_view to, bool valid);
std::string dialback_verify_request(std::string_view from, std::string_view to, std::string_view id,
                                    std::string_view key);
std::string dialback_verify_answer(std::string_view from, std::string_view to, std::string_view id, bool valid);
/// <db:result/> or <db:verify/> (name "result" or "verify").
bool is_dialback(const server::xml::Element& e, std::string_view name);

/// A stanza an authenticated peer sent: nullopt when it may be routed, else the stream
/// error condition to close with, and the reason. `authenticated` is the peer's domain;
/// `is_local` tells whether a domain is served here.
struct StanzaRefusal {
  std::string_view condition;
  std::string text;
};
std::optional<StanzaRefusal> check_inbound_stanza(const server::Stanza& stanza, std::string_view authenticated,
                                                  const std::function<bool(std::string_view)>& is_local);

/// An element an authenticated peer sent, as a stanza to route (in jabber:client), or the
/// stream error to close with: check_inbound_stanza's, improper-addressing for a malformed
/// address, unsupported-stanza-type for an element that is not a stanza.
std::variant<server::Stanza, StanzaRefusal> take_inbound_stanza(
    server::xml::Element element, std::string_view authenticated,
    const std::function<bool(std::string_view)>& is_local);

}  // namespace parley::federation
