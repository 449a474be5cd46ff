// The presence module's subscriber cache: it must never answer "subscribed" after the roster
// says otherwise, whatever the order in which the snapshot and the changes arrive.
#include "modules/presence/subscribers.hpp"

#include <gtest/gtest.h>

namespace parley::modules::presence {
namespace {

const std::string kBob = "bob@example.org";
const std::string kAlice = "alice@example.org";

TEST(SubscriberCache, KnowsOnlyAccountsWhoseSnapshotIsIn) {
  SubscriberCache c;
  EXPECT_EQ(c.subscribed(kBob, kAlice), std::nullopt);
  c.begin_load(kBob);
  EXPECT_EQ(c.subscribed(kBob, kAlice), std::nullopt) << "still reading the snapshot";
  c.end_load(kBob, 5, {kAlice});
  EXPECT_EQ(c.subscribed(kBob, kAlice), true);
  EXPECT_EQ(c.subscribed(kBob, "carol@example.org"), false);
  c.change("dave@example.org", kAlice, true, 1);  // an account not cached stays unknown
  EXPECT_EQ(c.subscribed("dave@example.org", kAlice), std::nullopt);
  EXPECT_EQ(c.size(), 1u);
}

TEST(SubscriberCache, AChangeThatRacedTheSnapshotIsKept) {
  SubscriberCache c;
  c.begin_load(kBob);
  c.change(kBob, kAlice, false, 6);  // committed after the snapshot was read at version 5
  c.end_load(kBob, 5, {kAlice});
  EXPECT_EQ(c.subscribed(kBob, kAlice), false);
}

TEST(SubscriberCache, AChangeTheSnapshotAlreadyShowsIsNotReplayed) {
  SubscriberCache c;
  c.begin_load(kBob);
  c.change(kBob, kAlice, true, 4);  // then revoked at 5, which the snapshot shows
  c.end_load(kBob, 5, {});
  EXPECT_EQ(c.subscribed(kBob, kAlice), false);
  c.change(kBob, kAlice, true, 5);  // a late push of what the snapshot has: nothing new
  EXPECT_EQ(c.subscribed(kBob, kAlice), false);
}

TEST(SubscriberCache, PushesThatOvertakeEachOtherKeepTheLatest) {
  SubscriberCache c;
  c.begin_load(kBob);
  c.end_load(kBob, 5, {kAlice});
  c.change(kBob, kAlice, false, 7);
  c.change(kBob, kAlice, true, 6);  // older, arriving late
  EXPECT_EQ(c.subscribed(kBob, kAlice), false);
  c.change(kBob, kAlice, true, 8);
  EXPECT_EQ(c.subscribed(kBob, kAlice), true);
}

TEST(SubscriberCache, AnOlderSecondSnapshotChangesNothing) {
  SubscriberCache c;
  c.begin_load(kBob);  // two resources become available at once
  c.begin_load(kBob);
  c.end_load(kBob, 7, {kAlice});
  c.end_load(kBob, 6, {});
  EXPECT_EQ(c.subscribed(kBob, kAlice), true);
  c.begin_load(kBob);
  c.end_load(kBob, 9, {});  // a newer one replaces it
  EXPECT_EQ(c.subscribed(kBob, kAlice), false);
}

TEST(SubscriberCache, AnAccountIsForgottenWhenOfflineButNotWhileLoading) {
  SubscriberCache c;
  c.begin_load(kBob);
  c.end_load(kBob, 1, {kAlice});
  c.begin_load(kBob);
  c.forget(kBob);
  EXPECT_EQ(c.subscribed(kBob, kAlice), true) << "a snapshot is being read for it";
  c.end_load(kBob, 2, {kAlice});
  c.forget(kBob);
  EXPECT_EQ(c.subscribed(kBob, kAlice), std::nullopt);
  EXPECT_EQ(c.size(), 0u);
  c.begin_load(kBob);
  c.abandon_load(kBob);  // the database could not be read
  EXPECT_EQ(c.subscribed(kBob, kAlice), std::nullopt);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace parley::modules::presence
