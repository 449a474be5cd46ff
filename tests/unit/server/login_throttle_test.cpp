// Growing delays for failed logins (server/login_throttle.hpp), with a clock the test moves.
#include "server/login_throttle.hpp"

#include <gtest/gtest.h>

namespace parley::server {
namespace {

using namespace std::chrono_literals;
using Clock = LoginThrottle::Clock;

LoginThrottle::Options options() {
  LoginThrottle::Options o;
  o.base = 500ms;
  o.max = 4000ms;
  o.free_failures = 2;
  o.forget_after = 900s;
  o.max_entries = 4;
  return o;
}

TEST(LoginThrottle, TwoFreeFailuresThenDoublingDelaysUpToTheMaximum) {
  LoginThrottle t(options());
  auto now = Clock::now();
  std::vector<std::chrono::milliseconds> seen;
  for (int i = 0; i < 7; ++i) {
    seen.push_back(t.delay("192.0.2.1", "alice@example.org", now));
    t.failed("192.0.2.1", "alice@example.org", now);
  }
  EXPECT_EQ(seen, (std::vector<std::chrono::milliseconds>{0ms, 0ms, 0ms, 500ms, 1000ms, 2000ms, 4000ms}));
  EXPECT_EQ(t.delay("192.0.2.1", "alice@example.org", now), 4000ms);  // capped
}

TEST(LoginThrottle, TheAccountIsSlowedFromEveryAddressAndTheAddressForEveryAccount) {
  LoginThrottle t(options());
  auto now = Clock::now();
  for (int i = 0; i < 4; ++i) t.failed("192.0.2." + std::to_string(i), "alice@example.org", now);
  EXPECT_EQ(t.delay("198.51.100.7", "alice@example.org", now), 1000ms) << "another address, same account";
  for (int i = 0; i < 4; ++i) t.failed("203.0.113.5", "user" + std::to_string(i) + "@example.org", now);
  EXPECT_EQ(t.delay("203.0.113.5", "nobody@example.org", now), 1000ms) << "same address, another account";
  EXPECT_EQ(t.delay("198.51.100.7", "bob@example.org", now), 0ms);
}

TEST(LoginThrottle, IPv6AddressesCountByTheirSlash64) {
  LoginThrottle t(options());
  auto now = Clock::now();
  for (int i = 1; i <= 3; ++i) t.failed("2001:db8:1:2::" + std::to_string(i), "u" + std::to_string(i), now);
  EXPECT_EQ(t.delay("2001:db8:1:2:ffff::9", "other", now), 500ms);
  EXPECT_EQ(t.delay("2001:db8:1:3::1", "other", now), 0ms);
  EXPECT_EQ(LoginThrottle::address_key("2001:db8:1:2:aa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginThrottle::address_key("192.0.2.1"), "192.0.2.1");
}

TEST(LoginThrottle, FailuresAreForgottenAfterAWhileAndASuccessClearsTheAccount) {
  LoginThrottle t(options());
  auto now = Clock::now();
  for (int i = 0; i < 5; ++i) t.failed("192.0.2.1", "alice", now);
  EXPECT_EQ(t.delay("192.0.2.1", "alice", now + 901s), 0ms);
  for (int i = 0; i < 5; ++i) t.failed("192.0.2.1", "alice", now);
  t.succeeded("alice");
  EXPECT_EQ(t.delay("198.51.100.1", "alice", now), 0ms) << "the account is clear";
  EXPECT_GT(t.delay("192.0.2.1", "bob", now), 0ms) << "the address is not: a success does not reset it";
}

TEST(LoginThrottle, MemoryIsBounded) {
  LoginThrottle t(options());  // at most 4 entries per table
  auto now = Clock::now();
  for (int i = 0; i < 100; ++i) {
    t.failed("192.0.2." + std::to_string(i), "user" + std::to_string(i), now + std::chrono::seconds(i));
  }
  // The newest still count; the oldest were evicted to make room.
  for (int k = 0; k < 3; ++k) t.failed("192.0.2.99", "user99", now + 100s);
  EXPECT_GT(t.delay("192.0.2.99", "x", now + 100s), 0ms);
  EXPECT_EQ(t.delay("192.0.2.0", "user0", now + 100s), 0ms);
}

}  // namespace
}  // namespace parley::server
