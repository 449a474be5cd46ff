#pragma once
// The rules of offline storage that need no database and no network (XEP-0160 §3,
// XEP-0203, XEP-0334, XEP-0085), kept free of Asio so they compile and test fast.
// Pure functions: callable from any thread.

#include <optional>
#include <string>
#include <string_view>

#include "server/stanza.hpp"

namespace parley::modules::offline {

inline constexpr std::string_view kDelayNs = "urn:xmpp:delay";
inline constexpr std::string_view kHintsNs = "urn:xmpp:hints";
inline constexpr std::string_view kChatStatesNs = "http://jabber.org/protocol/chatstates";

/// What to do with a message for an account that has no resource to take it.
enum class Disposition {
  store,   ///< keep it for the next initial presence
  drop,    ///< discard silently (headline, error, chat states only)
  refuse,  ///< not stored: the sender gets service-unavailable (groupchat, <no-store/>)
};

/// XEP-0160 §3 and RFC 6121 §8.5.2.2: normal (and messages without a type, or with a type
/// this server does not know, RFC 6121 §5.2.2) and chat are stored; headline and error are
/// dropped silently, groupchat is refused. Besides: a message with XEP-0334 <no-store/> is
/// refused (it is not stored, so RFC 6121 wants the sender told), and one whose only content
/// is XEP-0085 chat states (with thread and hints) is dropped (XEP-0160 §3). <store/> keeps a
/// message that would be dropped for having only chat states; <no-permanent-store/> does
/// not prevent offline storage (XEP-0334 §4).
Disposition disposition(const server::Stanza& message);

/// The stanza as stored: the element with its current addresses, every element of
/// jabber:server moved to jabber:client, serialised with its namespace declared.
std::string to_storage(const server::Stanza& message);

/// Parses what to_storage() wrote back into a stanza; nullopt if it is not one.
std::optional<server::Stanza> from_storage(std::string_view xml);

/// Adds <delay xmlns='urn:xmpp:delay' from='domain' stamp='stamp'/> (XEP-0203 §4) to a
/// stored message before delivery.
void add_delay(server::Stanza& message, std::string_view domain, std::string_view stamp);

/// A copy of `element` where every element in jabber:server is in jabber:client instead, as a
/// client stream expects (RFC 6120 §4.8.3).
server::xml::Element as_client_namespace(const server::xml::Element& element);

}  // namespace parley::modules::offline
