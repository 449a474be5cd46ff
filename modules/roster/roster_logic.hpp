#pragma once
// The rules of rosters and presence subscriptions, free of Asio and of the database so that
// they compile fast and are tested as tables (tests/unit/modules/roster_*_test.cpp):
// - the subscription state machine of RFC 6121 Appendix A, for what a user sends
//   (outbound, A.2) and what a user receives (inbound, A.3), with pre-approvals (§3.4);
// - the checks on a roster set (RFC 6121 §2.1.5, §2.3.3, §2.4.3, §2.5.3);
// - roster items as XML (RFC 6121 §2.1.2).
// Pure functions and plain values: callable from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/stanza.hpp"
#include "server/xml/element.hpp"

namespace parley::modules::roster {

inline constexpr std::string_view kRosterNs = "jabber:iq:roster";

/// The 'subscription' of a roster item (RFC 6121 §2.1.2.5), without "remove".
enum class Subscription : std::uint8_t { none, to, from, both };

std::string_view to_string(Subscription s);
std::optional<Subscription> parse_subscription(std::string_view s);

/// One contact's state in one account (RFC 6121 Appendix A.1), plus its pre-approval.
struct SubState {
  Subscription subscription = Subscription::none;
  bool pending_out = false;  ///< a subscribe sent, not answered: ask='subscribe'
  bool pending_in = false;   ///< a subscribe received, not answered
  bool approved = false;     ///< pre-approved (RFC 6121 §3.4)

  /// The account receives the contact's presence ("to" or "both").
  bool has_to() const { return subscription == Subscription::to || subscription == Subscription::both; }
  /// The contact receives the account's presence ("from" or "both").
  bool has_from() const { return subscription == Subscription::from || subscription == Subscription::both; }
  bool operator==(const SubState&) const = default;
};

/// The Appendix A name of a state ("None + Pending Out/In", "From", ...), with
/// " (approved)" for a pre-approval; for logs and test messages.
std::string describe(const SubState& s);

/// The subscription-related presence types (RFC 6121 §3).
enum class SubscriptionType : std::uint8_t { subscribe, subscribed, unsubscribe, unsubscribed };

std::optional<SubscriptionType> parse_subscription_type(std::string_view type);
std::string_view to_string(SubscriptionType t);

/// What one subscription stanza does to a state.
struct Transition {
  SubState state;  ///< the new state (equal to the old one when nothing changes)
  /// Outbound: route the stanza to the contact. Inbound: deliver it to the account's
  /// available resources (and keep it, for a subscribe, until it is answered).
  bool forward = false;
  /// Inbound subscribe only: the server answers "subscribed" on the account's behalf,
  /// because the contact already has a subscription or was pre-approved (§3.1.3, §3.4).
  bool auto_subscribed = false;
};

/// RFC 6121 Appendix A.2: the account sends `type` to a contact in state `s`.
/// `pre_approval`: whether the server offers pre-approvals (§3.4).
Transition outbound(const SubState& s, SubscriptionType type, bool pre_approval);

/// RFC 6121 Appendix A.3: the account receives `type` from a contact in state `s`.
Transition inbound(const SubState& s, SubscriptionType type);

/// One roster item as stored and shown (RFC 6121 §2.1.2).
struct RosterItem {
  std::string jid;
  std::optional<std::string> name;
  Subscription subscription = Subscription::none;
  bool ask = false;
  bool approved = false;
  std::vector<std::string> groups;

  SubState state(bool pending_in = false) const { return {subscription, ask, pending_in, approved}; }
  bool operator==(const RosterItem&) const = default;
};

/// <item jid=... name=... subscription=... ask='subscribe' approved='true'><group/>...</item>
server::xml::Element item_element(const RosterItem& item);
/// <item jid=... subscription='remove'/>, for the push after a removal (RFC 6121 §2.5.2).
server::xml::Element removed_item_element(std::string_view jid);

/// Bounds a server puts on roster sets (RFC 6121 §2.3.3: "server-configured limit").
struct RosterLimits {
  std::size_t max_name_bytes = 1023;
  std::size_t max_group_bytes = 1023;
  std::size_t max_groups = 64;
};

/// A roster set, checked.
struct RosterSet {
  std::string jid;                  ///< prepared (RFC 7622)
  bool remove = false;              ///< subscription='remove'
  std::optional<std::string> name;  ///< absent or empty: no name
  std::vector<std::string> groups;  ///< in the order given, no duplicates
};

/// Checks the <query/> of a roster set (RFC 6121 §2.1.5, §2.3.3) from the account `self`
/// (a bare JID): bad-request for not exactly one <item/>, a missing 'jid' or a group named
/// twice; jid-malformed for a 'jid' that is no JID; not-acceptable for a name or group over
/// the limits or an empty group; not-allowed for the account's own JID (a user always has
/// their own presence; Prosody refuses it the same way). 'ask', 'approved' and any
/// 'subscription' other than "remove" are ignored (§2.1.2.1, §2.1.2.2, §2.1.2.5).
std::variant<RosterSet, server::StanzaError> check_roster_set(const server::xml::Element& query,
                                                              const server::Jid& self,
                                                              const RosterLimits& limits);

/// Groups as stored: joined with U+0001, which XML 1.0 text cannot contain.
std::string join_groups(const std::vector<std::string>& groups);
std::vector<std::string> split_groups(std::string_view joined);

}  // namespace parley::modules::roster
