#include "server/cli/options.hpp"

#include <gtest/gtest.h>

namespace parley::server::cli {
namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "parley");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(CliOptions, OptionsBeforeOrAfterArguments) {
  auto a = parse({"--config", "p.toml", "user", "add", "a@b"});
  auto b = parse({"user", "add", "a@b", "--config", "p.toml"});
  auto c = parse({"user", "--config=p.toml", "add", "a@b"});
  for (const auto& o : {a, b, c}) {
    EXPECT_EQ(o.args, (std::vector<std::string>{"user", "add", "a@b"}));
    EXPECT_EQ(o.config, "p.toml");
  }
}

TEST(CliOptions, FlagsAndRepeatedDomains) {
  auto o = parse({"cert", "dev", "--dev", "--out", "d", "--domain", "a.test", "--domain", "b.test"});
  EXPECT_TRUE(o.dev);
  EXPECT_EQ(o.out, "d");
  EXPECT_EQ(o.domains, (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_TRUE(parse({"user", "del", "x@y", "--yes"}).yes);
  EXPECT_EQ(parse({"--", "--dev"}).args, std::vector<std::string>{"--dev"});
}

TEST(CliOptions, MistakesAreUsageErrors) {
  EXPECT_THROW(parse({"serve", "--bogus"}), UsageError);
  EXPECT_THROW(parse({"serve", "--config"}), UsageError);
  EXPECT_THROW(parse({"serve", "--config", "a", "--dev"}), UsageError);
  EXPECT_THROW(parse({"serve", "--dev=1"}), UsageError);
}

}  // namespace
}  // namespace parley::server::cli
