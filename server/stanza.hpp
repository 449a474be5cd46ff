#pragma once
// A stanza on its way through the server (RFC 6120 §8): the element plus its parsed kind,
// type and addresses, so that routing never re-parses them. And stanza errors (§8.3).
// Plain values; not shared between threads while being changed.

#include <optional>
#include <string>
#include <string_view>

#include "server/jid.hpp"
#include "server/xml/element.hpp"

namespace parley::server {

enum class StanzaKind { message, presence, iq };

struct Stanza {
  xml::Element element;
  StanzaKind kind = StanzaKind::message;
  std::string type;           ///< the 'type' attribute, "" when absent
  std::optional<Jid> from;    ///< stamped by the server for everything a client sends
  std::optional<Jid> to;      ///< absent: to the sender's account (RFC 6120 §10.3)

  std::string_view id() const { return element.attr("id").value_or(""); }
  bool is_error() const { return type == "error"; }
  /// An iq get or set: the kind that must always be answered (RFC 6120 §8.2.3).
  bool is_request() const { return kind == StanzaKind::iq && (type == "get" || type == "set"); }

  /// Writes `from` and `to` back into the element's attributes.
  void sync_addresses();
};

/// Reads kind, type and addresses from an element in the stream's content namespace.
/// nullopt for an element that is not a stanza, or with a malformed address (then
/// `bad_jid` is set so the caller can answer jid-malformed / improper-addressing).
std::optional<Stanza> make_stanza(xml::Element element, bool* bad_jid = nullptr);

/// A stanza error (RFC 6120 §8.3.3): the condition's element name and its error type.
struct StanzaError {
  std::string_view condition;  ///< e.g. "service-unavailable"
  std::string_view type;       ///< auth | cancel | continue | modify | wait
  std::string text;            ///< optional human-readable text (English)

  static StanzaError bad_request(std::string text = {}) { return {"bad-request", "modify", std::move(text)}; }
  static StanzaError conflict(std::string text = {}) { return {"conflict", "cancel", std::move(text)}; }
  static StanzaError feature_not_implemented(std::string text = {}) { return {"feature-not-implemented", "cancel", std::move(text)}; }
  static StanzaError forbidden(std::string text = {}) { return {"forbidden", "auth", std::move(text)}; }
  // Type "wait", as in ejabberd's xmpp library and Prosody's storage errors: almost every
  // use here is a database that is away for now, and retrying later may work.
  static StanzaError internal_server_error(std::string text = {}) { return {"internal-server-error", "wait", std::move(text)}; }
  static StanzaError item_not_found(std::string text = {}) { return {"item-not-found", "cancel", std::move(text)}; }
  static StanzaError jid_malformed(std::string text = {}) { return {"jid-malformed", "modify", std::move(text)}; }
  static StanzaError not_acceptable(std::string text = {}) { return {"not-acceptable", "modify", std::move(text)}; }
  static StanzaError not_allowed(std::string text = {}) { return {"not-allowed", "cancel", std::move(text)}; }
  static StanzaError not_authorized(std::string text = {}) { return {"not-authorized", "auth", std::move(text)}; }
  static StanzaError policy_violation(std::string text = {}) { return {"policy-violation", "modify", std::move(text)}; }
  static StanzaError recipient_unavailable(std::string text = {}) { return {"recipient-unavailable", "wait", std::move(text)}; }
  static StanzaError remote_server_not_found(std::string text = {}) { return {"remote-server-not-found", "cancel", std::move(text)}; }
  static StanzaError remote_server_timeout(std::string text = {}) { return {"remote-server-timeout", "wait", std::move(text)}; }
  static StanzaError resource_constraint(std::string text = {}) { return {"resource-constraint", "wait", std::move(text)}; }
  static StanzaError service_unavailable(std::string text = {}) { return {"service-unavailable", "cancel", std::move(text)}; }
  static StanzaError unexpected_request(std::string text = {}) { return {"unexpected-request", "wait", std::move(text)}; }
};

/// The error reply to `original` (RFC 6120 §8.3.1): addresses swapped, type='error', the
/// same id; message and presence keep their children, an iq keeps its request child.
Stanza make_error(const Stanza& original, const StanzaError& error);

/// An empty iq result to a request (RFC 6120 §8.2.3).
Stanza make_result(const Stanza& request);

inline constexpr std::string_view kStanzaErrorNs = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kClientNs = "jabber:client";

}  // namespace parley::server
