// ModuleSettings (server/config.hpp): the typed getters modules call on their own table.
// The common cases are in config_test.cpp; these are the edges the fuzzer found.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/config.hpp"

namespace parley::server {
namespace {

using std::chrono::seconds;

ModuleSettings one(std::string key, SettingValue value) {
  return ModuleSettings("host[0].ping", {{std::move(key), std::move(value)}});
}

// Found by tests/fuzz/config_fuzz (corpus: duration_overflow.toml): the count of a duration
// string was multiplied out to seconds in a signed 64-bit integer, which overflows: undefined
// behaviour, in practice a wrapped value. "123527304065019319w" wrapped to exactly 86400 and
// was accepted as one day.
TEST(ModuleSettingsDuration, AHugeCountIsOutOfRangeNotAnOverflow) {
  for (const char* text : {"123527304065019319w", "99999999999999w", "9223372036854775807m"}) {
    SCOPED_TRACE(text);
    const auto s = one("interval", {std::string(text), {"t.toml", 5}});
    try {
      const auto accepted = s.duration("interval", seconds(300), seconds(1), seconds(86400));
      FAIL() << "accepted as " << accepted.count() << "s";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("t.toml:5: 'host[0].ping.interval' must be between 1s and 86400s"));
    }
  }
  // The largest count that fits in every unit is still read; one more week is refused.
  for (const char* text : {"15250284452471w", "106751991167300d", "2562047788015215h", "153722867280912930m",
                           "9223372036854775807s"}) {
    SCOPED_TRACE(text);
    const auto s = one("d", {std::string(text), {"t.toml", 1}});
    EXPECT_GT(s.duration("d", seconds(0), seconds(0), seconds(INT64_MAX)).count(), INT64_MAX - 604800);
  }
  const auto over = one("d", {std::string("15250284452472w"), {"t.toml", 1}});
  EXPECT_THROW(over.duration("d", seconds(0), seconds(0), seconds(INT64_MAX)), ConfigError);
}

TEST(ModuleSettingsDuration, TheRangeIsExactInEveryUnit) {
  EXPECT_EQ(one("d", {std::string("1440m"), {}}).duration("d", seconds(0), seconds(1), seconds(86400)),
            seconds(86400));
  EXPECT_THROW(one("d", {std::string("1441m"), {}}).duration("d", seconds(0), seconds(1), seconds(86400)),
               ConfigError);
  EXPECT_THROW(one("d", {std::string("2m"), {}}).duration("d", seconds(0), seconds(1), seconds(100)), ConfigError);
  EXPECT_EQ(one("d", {std::string("1m"), {}}).duration("d", seconds(0), seconds(1), seconds(100)), seconds(60));
  EXPECT_THROW(one("d", {std::string("0s"), {}}).duration("d", seconds(5), seconds(1), seconds(100)), ConfigError);
}

}  // namespace
}  // namespace parley::server
