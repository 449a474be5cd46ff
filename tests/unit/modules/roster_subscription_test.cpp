// The subscription state machine against the tables of RFC 6121 Appendix A, row by row,
// plus pre-approvals (RFC 6121 §3.4).
#include <gtest/gtest.h>

#include "modules/roster/roster_logic.hpp"

namespace parley::modules::roster {
namespace {

// The nine states of Appendix A.1, by their names there.
SubState state(std::string_view name) {
  if (name == "None") return {Subscription::none, false, false, false};
  if (name == "None + Pending Out") return {Subscription::none, true, false, false};
  if (name == "None + Pending In") return {Subscription::none, false, true, false};
  if (name == "None + Pending Out/In") return {Subscription::none, true, true, false};
  if (name == "To") return {Subscription::to, false, false, false};
  if (name == "To + Pending In") return {Subscription::to, false, true, false};
  if (name == "From") return {Subscription::from, false, false, false};
  if (name == "From + Pending Out") return {Subscription::from, true, false, false};
  if (name == "Both") return {Subscription::both, false, false, false};
  ADD_FAILURE() << "no state " << name;
  return {};
}

struct Row {
  const char* existing;
  bool forward;       // outbound: ROUTE?; inbound: DELIVER?
  const char* next;   // "" for "no state change"
};

void check(const char* table, SubscriptionType type, bool outbound_side, const std::vector<Row>& rows) {
  ASSERT_EQ(rows.size(), 9u) << table << ": every state has a row";
  for (const auto& row : rows) {
    SubState before = state(row.existing);
    Transition t = outbound_side ? outbound(before, type, false) : inbound(before, type);
    SubState expected = *row.next ? state(row.next) : before;
    EXPECT_EQ(t.forward, row.forward) << table << " in " << row.existing;
    EXPECT_EQ(describe(t.state), describe(expected)) << table << " in " << row.existing;
  }
}

TEST(RosterSubscription, A21OutboundSubscribe) {
  check("A.2.1", SubscriptionType::subscribe, true,
        {{"None", true, "None + Pending Out"},
         {"None + Pending Out", true, ""},
         {"None + Pending In", true, "None + Pending Out/In"},
         {"None + Pending Out/In", true, ""},
         {"To", true, ""},
         {"To + Pending In", true, ""},
         {"From", true, "From + Pending Out"},
         {"From + Pending Out", true, ""},
         {"Both", true, ""}});
}

TEST(RosterSubscription, A22OutboundUnsubscribe) {
  check("A.2.2", SubscriptionType::unsubscribe, true,
        {{"None", true, ""},
         {"None + Pending Out", true, "None"},
         {"None + Pending In", true, ""},
         {"None + Pending Out/In", true, "None + Pending In"},
         {"To", true, "None"},
         {"To + Pending In", true, "None + Pending In"},
         {"From", true, ""},
         {"From + Pending Out", true, "From"},
         {"Both", true, "From"}});
}

TEST(RosterSubscription, A23OutboundSubscribed) {
  check("A.2.3", SubscriptionType::subscribed, true,
        {{"None", false, ""},
         {"None + Pending Out", false, ""},
         {"None + Pending In", true, "From"},
         {"None + Pending Out/In", true, "From + Pending Out"},
         {"To", false, ""},
         {"To + Pending In", true, "Both"},
         {"From", false, ""},
         {"From + Pending Out", false, ""},
         {"Both", false, ""}});
}

TEST(RosterSubscription, A24OutboundUnsubscribed) {
  check("A.2.4", SubscriptionType::unsubscribed, true,
        {{"None", false, ""},
         {"None + Pending Out", false, ""},
         {"None + Pending In", true, "None"},
         {"None + Pending Out/In", true, "None + Pending Out"},
         {"To", false, ""},
         {"To + Pending In", true, "To"},
         {"From", true, "None"},
         {"From + Pending Out", true, "None + Pending Out"},
         {"Both", true, "To"}});
}

TEST(RosterSubscription, A31InboundSubscribe) {
  check("A.3.1", SubscriptionType::subscribe, false,
        {{"None", true, "None + Pending In"},
         {"None + Pending Out", true, "None + Pending Out/In"},
         {"None + Pending In", false, ""},
         {"None + Pending Out/In", false, ""},
         {"To", true, "To + Pending In"},
         {"To + Pending In", false, ""},
         {"From", false, ""},
         {"From + Pending Out", false, ""},
         {"Both", false, ""}});
}

TEST(RosterSubscription, A32InboundUnsubscribe) {
  check("A.3.2", SubscriptionType::unsubscribe, false,
        {{"None", false, ""},
         {"None + Pending Out", false, ""},
         {"None + Pending In", true, "None"},
         {"None + Pending Out/In", true, "None + Pending Out"},
         {"To", false, ""},
         {"To + Pending In", true, "To"},
         {"From", true, "None"},
         {"From + Pending Out", true, "None + Pending Out"},
         {"Both", true, "To"}});
}

TEST(RosterSubscription, A33InboundSubscribed) {
  check("A.3.3", SubscriptionType::subscribed, false,
        {{"None", false, ""},
         {"None + Pending Out", true, "To"},
         {"None + Pending In", false, ""},
         {"None + Pending Out/In", true, "To + Pending In"},
         {"To", false, ""},
         {"To + Pending In", false, ""},
         {"From", false, ""},
         {"From + Pending Out", true, "Both"},
         {"Both", false, ""}});
}

TEST(RosterSubscription, A34InboundUnsubscribed) {
  check("A.3.4", SubscriptionType::unsubscribed, false,
        {{"None", false, ""},
         {"None + Pending Out", true, "None"},
         {"None + Pending In", false, ""},
         {"None + Pending Out/In", true, "None + Pending In"},
         {"To", true, "None"},
         {"To + Pending In", true, "None + Pending In"},
         {"From", false, ""},
         {"From + Pending Out", true, "From"},
         {"Both", true, "From"}});
}

// RFC 6121 §3.1.3: a subscribe from a contact that already has a subscription is answered
// by the server; only then.
TEST(RosterSubscription, InboundSubscribeFromASubscriberIsAnsweredByTheServer) {
  for (const char* name : {"From", "From + Pending Out", "Both"}) {
    EXPECT_TRUE(inbound(state(name), SubscriptionType::subscribe).auto_subscribed) << name;
  }
  for (const char* name : {"None", "None + Pending Out", "None + Pending In", "To", "To + Pending In"}) {
    EXPECT_FALSE(inbound(state(name), SubscriptionType::subscribe).auto_subscribed) << name;
  }
}

// RFC 6121 §3.4: "subscribed" with no request pending pre-approves, without routing;
// the contact's later subscribe is approved at once and not delivered.
TEST(RosterSubscription, PreApproval) {
  for (const char* name : {"None", "None + Pending Out", "To"}) {
    Transition t = outbound(state(name), SubscriptionType::subscribed, true);
    EXPECT_FALSE(t.forward) << name;
    EXPECT_TRUE(t.state.approved) << name;
    EXPECT_EQ(t.state.subscription, state(name).subscription) << name;

    Transition in = inbound(t.state, SubscriptionType::subscribe);
    EXPECT_FALSE(in.forward) << name;
    EXPECT_TRUE(in.auto_subscribed) << name;
    EXPECT_FALSE(in.state.approved) << name;
    EXPECT_TRUE(in.state.has_from()) << name;
    EXPECT_FALSE(in.state.pending_in) << name;
  }
  // Without pre-approval support, nothing happens.
  EXPECT_FALSE(outbound(state("None"), SubscriptionType::subscribed, false).state.approved);
  // Already a subscriber: nothing to pre-approve.
  EXPECT_FALSE(outbound(state("From"), SubscriptionType::subscribed, true).state.approved);
  // "unsubscribed" withdraws a pre-approval, and is not routed when there is nothing else.
  SubState approved = state("None");
  approved.approved = true;
  Transition withdraw = outbound(approved, SubscriptionType::unsubscribed, true);
  EXPECT_FALSE(withdraw.forward);
  EXPECT_FALSE(withdraw.state.approved);
  // Approving a pending request leaves no pre-approval behind.
  Transition approve = outbound(state("None + Pending In"), SubscriptionType::subscribed, true);
  EXPECT_TRUE(approve.forward);
  EXPECT_FALSE(approve.state.approved);
}

// The invariants the table's CHECK constraints rely on hold in every reachable state.
TEST(RosterSubscription, EveryTransitionKeepsTheInvariants) {
  const char* names[] = {"None", "None + Pending Out", "None + Pending In", "None + Pending Out/In", "To",
                         "To + Pending In", "From", "From + Pending Out", "Both"};
  for (const char* name : names) {
    for (bool approved : {false, true}) {
      SubState s = state(name);
      if (approved && (s.has_from() || s.pending_in)) continue;
      s.approved = approved;
      for (auto type : {SubscriptionType::subscribe, SubscriptionType::subscribed, SubscriptionType::unsubscribe,
                        SubscriptionType::unsubscribed}) {
        for (const Transition& t : {outbound(s, type, true), inbound(s, type)}) {
          EXPECT_FALSE(t.state.pending_out && t.state.has_to()) << name << " " << to_string(type);
          EXPECT_FALSE(t.state.pending_in && t.state.has_from()) << name << " " << to_string(type);
          EXPECT_FALSE(t.state.approved && t.state.has_from()) << name << " " << to_string(type);
        }
      }
    }
  }
}

TEST(RosterSubscription, Names) {
  EXPECT_EQ(parse_subscription_type("subscribed"), SubscriptionType::subscribed);
  EXPECT_EQ(parse_subscription_type("probe"), std::nullopt);
  EXPECT_EQ(parse_subscription_type(""), std::nullopt);
  EXPECT_EQ(parse_subscription("both"), Subscription::both);
  EXPECT_EQ(parse_subscription("remove"), std::nullopt);
  EXPECT_EQ(describe(state("None + Pending Out/In")), "None + Pending Out/In");
}

}  // namespace
}  // namespace parley::modules::roster
