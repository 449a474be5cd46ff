#pragma once
// The rules of XEP-0280 Message Carbons that need no network: which messages are copied,
// how a copy is wrapped, and which resources RFC 6121 already delivers a message to.
// Free of Asio so they compile and test fast. Pure functions: callable from any thread.

#include <memory>
#include <string_view>
#include <vector>

#include "server/module_api.hpp"

namespace parley::modules::carbons {

inline constexpr std::string_view kCarbonsNs = "urn:xmpp:carbons:2";
inline constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";
inline constexpr std::string_view kHintsNs = "urn:xmpp:hints";
inline constexpr std::string_view kMucUserNs = "http://jabber.org/protocol/muc#user";

/// XEP-0280 §9: the sender asked for no copies with <private xmlns='urn:xmpp:carbons:2'/>.
bool is_private(const server::xml::Element& message);

/// XEP-0280 §6 (the suggested rules, followed here): type chat, or type normal (also no type,
/// or a type this server does not know, RFC 6121 §5.2.2) with a <body/>. Never: groupchat,
/// headline, error; a message carrying a carbon itself (<sent/>, <received/>); a message
/// marked <private/> (§9) or with the XEP-0334 <no-copy/> hint.
bool eligible(const server::Stanza& message);

/// eligible(), and not from a MUC (§6: "not eligible if ... sent by a MUC room or service,
/// ... this also includes private messages from MUC participants"), recognised by
/// <x xmlns='http://jabber.org/protocol/muc#user'/>. For received copies; the copies of what
/// a user sends (also to a MUC participant) only need eligible().
bool eligible_received(const server::Stanza& message);

/// Which direction a copy records (XEP-0280 §7 "received", §8 "sent").
enum class Direction { sent, received };

/// The copy for `target` (a full JID of `account`): a message from the account's bare JID to
/// `target`, of the original's type, holding <sent/> or <received/> (urn:xmpp:carbons:2)
/// around <forwarded xmlns='urn:xmpp:forward:0'/> (XEP-0297) around the original with its
/// addresses, in jabber:client.
server::Stanza wrap(Direction direction, const server::Stanza& original, const server::Jid& account,
                    const server::Jid& target);

/// The resources RFC 6121 §8.5.2.1.1 delivers a chat or normal message for the bare JID to:
/// the available ones with the highest non-negative priority (all of those that share it).
/// The rule of modules/message; carbons go to the enabled resources not in this set.
std::vector<std::shared_ptr<server::ClientSession>> bare_recipients(
    const std::vector<std::shared_ptr<server::ClientSession>>& sessions);

}  // namespace parley::modules::carbons
