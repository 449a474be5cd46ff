// The archive's preferences cache (modules/mam/mam_prefs_cache.hpp): an answer to a query
// that started before the account was deleted or created, or before its preferences were
// saved, is never installed over what is true now.
#include "modules/mam/mam_prefs_cache.hpp"

#include <gtest/gtest.h>

namespace parley::modules::mam {
namespace {

const std::string kAlice = "alice@example.org";

PrefsCache::Entry prefs(Policy policy) { return PrefsCache::Entry{true, Prefs{policy, {}, {}}}; }
PrefsCache::Entry no_account() { return PrefsCache::Entry{false, {}}; }

TEST(MamPrefsCache, ALoadInstallsWhatItRead) {
  PrefsCache cache;
  auto g = cache.generation();
  cache.put(kAlice, prefs(Policy::never), g);
  auto hit = cache.find(kAlice);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->exists);
  EXPECT_EQ(hit->prefs.policy, Policy::never);
}

// The old account's 'never', read just before user/deleted, must not be what the new
// account of that name gets for ten minutes.
TEST(MamPrefsCache, ALoadThatStartedBeforeTheAccountWasDeletedInstallsNothing) {
  PrefsCache cache;
  auto g = cache.generation();  // the load starts
  cache.forget(kAlice);         // user/deleted (then user/created) while it runs
  cache.put(kAlice, prefs(Policy::never), g);
  EXPECT_FALSE(cache.find(kAlice));
}

// Nor "no such account", read just before user/created, for 30 s.
TEST(MamPrefsCache, ALoadThatStartedBeforeTheAccountWasCreatedInstallsNothing) {
  PrefsCache cache;
  auto g = cache.generation();
  cache.forget(kAlice);  // user/created
  cache.put(kAlice, no_account(), g);
  EXPECT_FALSE(cache.find(kAlice));
}

TEST(MamPrefsCache, SavedPreferencesWinOverALoadStillRunning) {
  PrefsCache cache;
  auto load = cache.generation();
  auto save = cache.generation();
  cache.put_saved(kAlice, prefs(Policy::roster), save);
  cache.put(kAlice, prefs(Policy::always), load);  // read before the save committed
  auto hit = cache.find(kAlice);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->prefs.policy, Policy::roster);
}

TEST(MamPrefsCache, ASaveThatRacedWithADeletionLeavesNothingCached) {
  PrefsCache cache;
  cache.put(kAlice, prefs(Policy::always), cache.generation());
  auto save = cache.generation();
  cache.forget(kAlice);  // the account went while the save ran
  cache.put_saved(kAlice, prefs(Policy::never), save);
  EXPECT_FALSE(cache.find(kAlice));
}

TEST(MamPrefsCache, RosterMembershipReadBeforeADeletionIsNotInstalled) {
  PrefsCache cache;
  cache.put(kAlice, prefs(Policy::roster), cache.generation());
  auto g = cache.generation();
  cache.forget(kAlice);
  cache.put(kAlice, prefs(Policy::roster), cache.generation());  // the new account, loaded
  cache.put_roster(kAlice, "bob@example.org", true, g);          // the old account's roster
  EXPECT_FALSE(cache.in_roster(kAlice, "bob@example.org"));
  cache.put_roster(kAlice, "bob@example.org", false, cache.generation());
  EXPECT_EQ(cache.in_roster(kAlice, "bob@example.org").value_or(true), false);
}

}  // namespace
}  // namespace parley::modules::mam
