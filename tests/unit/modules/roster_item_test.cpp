// Roster sets as RFC 6121 §2.1.5, §2.3.3, §2.4.3 and §2.5.3 check them, and roster items
// as XML (§2.1.2).
#include <gtest/gtest.h>

#include "modules/roster/roster_logic.hpp"

namespace parley::modules::roster {
namespace {

using server::xml::Element;

const std::string kNs(kRosterNs);

Element query_with(std::vector<Element> items) {
  Element q("query", kNs);
  for (auto& i : items) q.add_child(std::move(i));
  return q;
}

Element item(std::string jid, std::vector<std::string> groups = {}) {
  Element i("item", kNs);
  if (!jid.empty()) i.set_attr("jid", std::move(jid));
  for (auto& g : groups) i.add_child("group", kNs).add_text(std::move(g));
  return i;
}

const server::Jid& alice() {
  static const server::Jid j = *server::Jid::parse("alice@example.org");
  return j;
}

// The error condition of a check, or "" if it passed.
std::string condition(const Element& query, RosterLimits limits = {}) {
  auto r = check_roster_set(query, alice(), limits);
  if (auto* e = std::get_if<server::StanzaError>(&r)) return std::string(e->condition);
  return "";
}

TEST(RosterItem, ExactlyOneItem) {
  EXPECT_EQ(condition(query_with({})), "bad-request");
  EXPECT_EQ(condition(query_with({item("bob@example.org"), item("carol@example.org")})), "bad-request");
  EXPECT_EQ(condition(query_with({item("bob@example.org")})), "");
}

TEST(RosterItem, TheJidIsRequiredAndValid) {
  EXPECT_EQ(condition(query_with({item("")})), "bad-request");
  EXPECT_EQ(condition(query_with({item("@example.org")})), "jid-malformed");
  EXPECT_EQ(condition(query_with({item("alice@example.org")})), "not-allowed");
  EXPECT_EQ(condition(query_with({item("Alice@Example.org/phone")})), "not-allowed");
  auto r = check_roster_set(query_with({item("Bob@Example.ORG")}), alice(), {});
  ASSERT_TRUE(std::holds_alternative<RosterSet>(r));
  EXPECT_EQ(std::get<RosterSet>(r).jid, "bob@example.org");  // prepared (RFC 7622)
}

TEST(RosterItem, NamesAndGroupsWithinTheLimits) {
  RosterLimits limits;
  limits.max_name_bytes = 5;
  limits.max_group_bytes = 3;
  limits.max_groups = 2;
  Element named = item("bob@example.org");
  named.set_attr("name", "Bobby");
  EXPECT_EQ(condition(query_with({named}), limits), "");
  named.set_attr("name", "Bobby!");
  EXPECT_EQ(condition(query_with({named}), limits), "not-acceptable");
  EXPECT_EQ(condition(query_with({item("bob@example.org", {"abc"})}), limits), "");
  EXPECT_EQ(condition(query_with({item("bob@example.org", {"abcd"})}), limits), "not-acceptable");
  EXPECT_EQ(condition(query_with({item("bob@example.org", {""})}), limits), "not-acceptable");
  EXPECT_EQ(condition(query_with({item("bob@example.org", {"a", "b", "c"})}), limits), "not-acceptable");
  EXPECT_EQ(condition(query_with({item("bob@example.org", {"a", "a"})}), limits), "bad-request");
}

TEST(RosterItem, SubscriptionOtherThanRemoveAskAndApprovedAreIgnored) {
  Element i = item("bob@example.org", {"Friends", "Work"});
  i.set_attr("subscription", "both");
  i.set_attr("ask", "subscribe");
  i.set_attr("approved", "true");
  i.set_attr("name", "Bob");
  auto r = check_roster_set(query_with({i}), alice(), {});
  ASSERT_TRUE(std::holds_alternative<RosterSet>(r));
  const auto& set = std::get<RosterSet>(r);
  EXPECT_FALSE(set.remove);
  EXPECT_EQ(set.name, "Bob");
  EXPECT_EQ(set.groups, (std::vector<std::string>{"Friends", "Work"}));
}

TEST(RosterItem, Remove) {
  Element i = item("bob@example.org", {""});  // what a removal carries besides is not checked
  i.set_attr("subscription", "remove");
  auto r = check_roster_set(query_with({i}), alice(), {});
  ASSERT_TRUE(std::holds_alternative<RosterSet>(r));
  EXPECT_TRUE(std::get<RosterSet>(r).remove);
}

TEST(RosterItem, AsXml) {
  RosterItem ri{"bob@example.org", "Bob", Subscription::from, true, false, {"Friends", "A & B"}};
  Element e = item_element(ri);
  EXPECT_EQ(e.name(), "item");
  EXPECT_EQ(e.ns(), kNs);
  EXPECT_EQ(e.attr("jid"), "bob@example.org");
  EXPECT_EQ(e.attr("name"), "Bob");
  EXPECT_EQ(e.attr("subscription"), "from");
  EXPECT_EQ(e.attr("ask"), "subscribe");
  EXPECT_FALSE(e.attr("approved"));
  std::vector<std::string> groups;
  for (const auto& g : e.children()) groups.push_back(g.text());
  EXPECT_EQ(groups, ri.groups);

  RosterItem plain{"carol@example.org", std::nullopt, Subscription::none, false, true, {}};
  Element p = item_element(plain);
  EXPECT_FALSE(p.attr("name"));
  EXPECT_FALSE(p.attr("ask"));
  EXPECT_EQ(p.attr("approved"), "true");
  EXPECT_EQ(p.attr("subscription"), "none");

  Element removed = removed_item_element("bob@example.org");
  EXPECT_EQ(removed.attr("subscription"), "remove");
  EXPECT_TRUE(removed.children().empty());
}

TEST(RosterItem, GroupsRoundTripThroughTheirStoredForm) {
  for (const auto& groups : std::vector<std::vector<std::string>>{
           {}, {"one"}, {"one", "two"}, {"with space", "ünïcödé", "a,b", "{\"x\"}"}}) {
    EXPECT_EQ(split_groups(join_groups(groups)), groups);
  }
}

}  // namespace
}  // namespace parley::modules::roster
