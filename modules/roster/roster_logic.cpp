// The tables of RFC 6121 Appendix A and the roster-set checks of §2, as plain functions.
#include "modules/roster/roster_logic.hpp"

#include <algorithm>

namespace parley::modules::roster {

using server::StanzaError;
using server::xml::Element;

std::string_view to_string(Subscription s) {
  switch (s) {
    case Subscription::none: return "none";
    case Subscription::to: return "to";
    case Subscription::from: return "from";
    case Subscription::both: return "both";
  }
  return "none";
}

std::optional<Subscription> parse_subscription(std::string_view s) {
  if (s == "none") return Subscription::none;
  if (s == "to") return Subscription::to;
  if (s == "from") return Subscription::from;
  if (s == "both") return Subscription::both;
  return std::nullopt;
}

std::string describe(const SubState& s) {
  std::string out;
  switch (s.subscription) {
    case Subscription::none: out = "None"; break;
    case Subscription::to: out = "To"; break;
    case Subscription::from: out = "From"; break;
    case Subscription::both: out = "Both"; break;
  }
  if (s.pending_out && s.pending_in) {
    out += " + Pending Out/In";
  } else if (s.pending_out) {
    out += " + Pending Out";
  } else if (s.pending_in) {
    out += " + Pending In";
  }
  if (s.approved) out += " (approved)";
  return out;
}

std::optional<SubscriptionType> parse_subscription_type(std::string_view type) {
  if (type == "subscribe") return SubscriptionType::subscribe;
  if (type == "subscribed") return SubscriptionType::subscribed;
  if (type == "unsubscribe") return SubscriptionType::unsubscribe;
  if (type == "unsubscribed") return SubscriptionType::unsubscribed;
  return std::nullopt;
}

std::string_view to_string(SubscriptionType t) {
  switch (t) {
    case SubscriptionType::subscribe: return "subscribe";
    case SubscriptionType::subscribed: return "subscribed";
    case SubscriptionType::unsubscribe: return "unsubscribe";
    case SubscriptionType::unsubscribed: return "unsubscribed";
  }
  return "subscribe";
}

namespace {

Subscription with_to(Subscription s) {
  return s == Subscription::from || s == Subscription::both ? Subscription::both : Subscription::to;
}
Subscription with_from(Subscription s) {
  return s == Subscription::to || s == Subscription::both ? Subscription::both : Subscription::from;
}
Subscription without_to(Subscription s) {
  return s == Subscription::from || s == Subscription::both ? Subscription::from : Subscription::none;
}
Subscription without_from(Subscription s) {
  return s == Subscription::to || s == Subscription::both ? Subscription::to : Subscription::none;
}

}  // namespace

Transition outbound(const SubState& s, SubscriptionType type, bool pre_approval) {
  Transition t{s};
  switch (type) {
    case SubscriptionType::subscribe:
      // A.2.1: always routed (the contact's server may have lost its state); Pending Out
      // unless the account is already subscribed.
      t.forward = true;
      if (!s.has_to()) t.state.pending_out = true;
      break;
    case SubscriptionType::unsubscribe:
      // A.2.2: always routed; "to" and Pending Out end.
      t.forward = true;
      t.state.pending_out = false;
      t.state.subscription = without_to(s.subscription);
      break;
    case SubscriptionType::subscribed:
      // A.2.3: approves a pending request; with none pending, a pre-approval (§3.4.1),
      // which is not routed.
      if (s.pending_in) {
        t.forward = true;
        t.state.pending_in = false;
        t.state.approved = false;
        t.state.subscription = with_from(s.subscription);
      } else if (!s.has_from() && pre_approval) {
        t.state.approved = true;
      }
      break;
    case SubscriptionType::unsubscribed:
      // A.2.4: denies a pending request or cancels the contact's subscription; otherwise it
      // only withdraws a pre-approval (§3.4) and is not routed.
      t.state.approved = false;
      if (s.pending_in || s.has_from()) {
        t.forward = true;
        t.state.pending_in = false;
        t.state.subscription = without_from(s.subscription);
      }
      break;
  }
  return t;
}

Transition inbound(const SubState& s, SubscriptionType type) {
  Transition t{s};
  switch (type) {
    case SubscriptionType::subscribe:
      // A.3.1 and §3.1.3: already subscribed, the server answers for the account; a
      // pre-approved contact is approved at once (§3.4.1); a request already pending is not
      // delivered again; otherwise it becomes Pending In and is delivered.
      if (s.has_from()) {
        t.auto_subscribed = true;
      } else if (s.pending_in) {
        // no state change, not delivered
      } else if (s.approved) {
        t.auto_subscribed = true;
        t.state.approved = false;
        t.state.subscription = with_from(s.subscription);
      } else {
        t.forward = true;
        t.state.pending_in = true;
      }
      break;
    case SubscriptionType::subscribed:
      // A.3.3: only an answer to our own pending request counts.
      if (s.pending_out) {
        t.forward = true;
        t.state.pending_out = false;
        t.state.subscription = with_to(s.subscription);
      }
      break;
    case SubscriptionType::unsubscribe:
      // A.3.2: the contact no longer wants our presence (or withdraws its request).
      if (s.has_from() || s.pending_in) {
        t.forward = true;
        t.state.pending_in = false;
        t.state.subscription = without_from(s.subscription);
      }
      break;
    case SubscriptionType::unsubscribed:
      // A.3.4: the contact denies our request or cancels our subscription.
      if (s.has_to() || s.pending_out) {
        t.forward = true;
        t.state.pending_out = false;
        t.state.subscription = without_to(s.subscription);
      }
      break;
  }
  return t;
}

Element item_element(const RosterItem& item) {
  Element e("item", std::string(kRosterNs));
  e.set_attr("jid", item.jid);
  if (item.name && !item.name->empty()) e.set_attr("name", *item.name);
  e.set_attr("subscription", std::string(to_string(item.subscription)));
  if (item.ask) e.set_attr("ask", "subscribe");
  if (item.approved) e.set_attr("approved", "true");
  for (const auto& g : item.groups) e.add_child("group", std::string(kRosterNs)).add_text(g);
  return e;
}

Element removed_item_element(std::string_view jid) {
  Element e("item", std::string(kRosterNs));
  e.set_attr("jid", std::string(jid));
  e.set_attr("subscription", "remove");
  return e;
}

std::variant<RosterSet, StanzaError> check_roster_set(const Element& query, const server::Jid& self,
                                                      const RosterLimits& limits) {
  // RFC 6121 §2.1.5 and §2.3.3: exactly one <item/>.
  const Element* item = nullptr;
  std::size_t items = 0;
  for (const auto& child : query.children()) {
    if (child.name() == "item" && child.ns() == kRosterNs) {
      item = &child;
      ++items;
    }
  }
  if (items != 1) return StanzaError::bad_request("a roster set carries exactly one <item/>");

  auto jid_text = item->attr("jid");
  if (!jid_text) return StanzaError::bad_request("the item has no 'jid'");
  auto jid = server::Jid::parse(*jid_text);
  if (!jid) return StanzaError::jid_malformed("the item's 'jid' is not a valid JID");
  if (jid->bare() == self.bare()) return StanzaError::not_allowed("your own JID cannot be a roster item");

  RosterSet out;
  out.jid = jid->str();
  out.remove = item->attr("subscription") == "remove";  // §2.1.2.5: other values are ignored
  if (out.remove) return out;

  if (auto name = item->attr("name"); name && !name->empty()) {
    if (name->size() > limits.max_name_bytes) {
      return StanzaError::not_acceptable("the name is longer than " + std::to_string(limits.max_name_bytes) + " bytes");
    }
    out.name = std::string(*name);
  }
  for (const auto& child : item->children()) {
    if (child.name() != "group" || child.ns() != kRosterNs) continue;
    std::string group = child.text();
    if (group.empty()) return StanzaError::not_acceptable("a group name is empty");
    if (group.size() > limits.max_group_bytes) {
      return StanzaError::not_acceptable("a group name is longer than " + std::to_string(limits.max_group_bytes) + " bytes");
    }
    if (std::find(out.groups.begin(), out.groups.end(), group) != out.groups.end()) {
      return StanzaError::bad_request("the group '" + group + "' is named twice");
    }
    out.groups.push_back(std::move(group));
  }
  if (out.groups.size() > limits.max_groups) {
    return StanzaError::not_acceptable("an item is in at most " + std::to_string(limits.max_groups) + " groups");
  }
  return out;
}

std::string join_groups(const std::vector<std::string>& groups) {
  std::string out;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) out += '\x01';
    out += groups[i];
  }
  return out;
}

std::vector<std::string> split_groups(std::string_view joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  for (;;) {
    auto pos = joined.find('\x01');
    out.emplace_back(joined.substr(0, pos));
    if (pos == std::string_view::npos) break;
    joined.remove_prefix(pos + 1);
  }
  return out;
}

}  // namespace parley::modules::roster
