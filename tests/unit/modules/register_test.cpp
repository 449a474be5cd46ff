// The per-address limiter of in-band registration (XEP-0077).
#include "modules/register/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace parley::modules::registration {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RegisterRateLimit, AllowsTheLimitPerWindowThenRefuses) {
  RateLimiter limiter(3, 1h);
  Clock::time_point t0{};
  t0 += 10h;
  EXPECT_TRUE(limiter.allow("192.0.2.1", t0));
  EXPECT_TRUE(limiter.allow("192.0.2.1", t0 + 1min));
  EXPECT_TRUE(limiter.allow("192.0.2.1", t0 + 2min));
  EXPECT_FALSE(limiter.allow("192.0.2.1", t0 + 3min));
  EXPECT_FALSE(limiter.allow("192.0.2.1", t0 + 59min));
  // Another address has its own count.
  EXPECT_TRUE(limiter.allow("192.0.2.2", t0 + 3min));
}

TEST(RegisterRateLimit, TheWindowSlides) {
  RateLimiter limiter(2, 1h);
  Clock::time_point t0{};
  t0 += 10h;
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("a", t0 + 30min));
  EXPECT_FALSE(limiter.allow("a", t0 + 59min));
  // The first attempt leaves the window an hour later; refused attempts never counted.
  EXPECT_TRUE(limiter.allow("a", t0 + 60min));
  EXPECT_FALSE(limiter.allow("a", t0 + 61min));
  EXPECT_TRUE(limiter.allow("a", t0 + 90min));
}

TEST(RegisterRateLimit, ZeroMeansNoLimit) {
  RateLimiter limiter(0, 1h);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.allow("a"));
}

TEST(RegisterRateLimit, ForgetsQuietAddresses) {
  RateLimiter limiter(5, 1h);
  Clock::time_point t0{};
  t0 += 10h;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.allow("198.51.100." + std::to_string(i), t0));
  EXPECT_EQ(limiter.keys(), 100u);
  EXPECT_TRUE(limiter.allow("203.0.113.1", t0 + 2h));
  EXPECT_EQ(limiter.keys(), 1u);
}

}  // namespace
}  // namespace parley::modules::registration
