// The payload of the account-change notices (server/account_events.hpp): what the server
// accepts from the parley_accounts channel, and what it ignores.
#include <gtest/gtest.h>

#include "server/account_events.hpp"

namespace parley::server {
namespace {

TEST(AccountEventNotice, ParsesCreatedAndDeleted) {
  AccountStore::Change change{};
  std::string jid, origin;
  ASSERT_TRUE(AccountEvents::parse("created alice@example.org 0123abcd", change, jid, origin));
  EXPECT_EQ(change, AccountStore::Change::created);
  EXPECT_EQ(jid, "alice@example.org");
  EXPECT_EQ(origin, "0123abcd");
  ASSERT_TRUE(AccountEvents::parse("deleted bob@example.org ff", change, jid, origin));
  EXPECT_EQ(change, AccountStore::Change::deleted);
  EXPECT_EQ(jid, "bob@example.org");
}

TEST(AccountEventNotice, RefusesAnythingElse) {
  AccountStore::Change change{};
  std::string jid, origin;
  for (const char* bad : {"", "created", "created alice@example.org", "renamed alice@example.org x",
                          "created  x", "deleted alice@example.org x y", "created alice@example.org "}) {
    EXPECT_FALSE(AccountEvents::parse(bad, change, jid, origin)) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace parley::server
