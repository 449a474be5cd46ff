// When a sign-in deserves a notice (modules/signin_notice/signin_rules.hpp).
#include "modules/signin_notice/signin_rules.hpp"

#include <gtest/gtest.h>

namespace parley::modules::signin_notice {
namespace {

TEST(SigninRules, NetworksAreSlash24AndSlash48) {
  EXPECT_EQ(network_of("192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(network_of("::ffff:192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(network_of("2001:db8:aa:bb::1"), "2001:db8:aa::/48");
  EXPECT_EQ(network_of("unknown"), "");
}

TEST(SigninRules, ANewClientOnANewNetworkWithHistory) {
  std::vector<EarlierSignin> earlier{{"phone", "192.0.2.10"}, {"laptop", "198.51.100.4"}};
  EXPECT_TRUE(deserves_notice(earlier, "tablet", "203.0.113.9"));
  EXPECT_FALSE(deserves_notice(earlier, "phone", "203.0.113.9")) << "a known client";
  EXPECT_FALSE(deserves_notice(earlier, "tablet", "192.0.2.200")) << "a known network";
  EXPECT_FALSE(deserves_notice({}, "tablet", "203.0.113.9")) << "no history: the first sign-in";
}

TEST(SigninRules, TheTextNamesClientAddressAndTime) {
  std::string text = notice_text("tablet", "203.0.113.9", "2026-12-03 10:00");
  EXPECT_NE(text.find("'tablet'"), std::string::npos);
  EXPECT_NE(text.find("203.0.113.9"), std::string::npos);
  EXPECT_NE(text.find("2026-12-03 10:00"), std::string::npos);
}

}  // namespace
}  // namespace parley::modules::signin_notice
