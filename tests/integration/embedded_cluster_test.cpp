// The embedded PostgreSQL: created on first use under data_dir, shared by a running server
// and the subcommands run beside it, stopped by the last process that used it.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/support/process.hpp"

namespace parley::test {
namespace {

class Embedded : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_ / "parley.toml";
    write_file(config_, "[server]\ndata_dir = \"var\"\n[security]\nscram_iterations = 4096\n"
                        "[[host]]\ndomain = \"localhost\"\n");
  }
  Ran cli(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.end(), {"--config", config_});
    return parley(args, input);
  }
  bool cluster_running() const {
    return std::filesystem::exists(dir_ / "var/postgres/data/postmaster.pid");
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(Embedded, SubcommandsStartAndStopTheirOwnCluster) {
  auto add = cli({"user", "add", "alice@localhost"}, "pw\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "var/postgres/data/PG_VERSION"));
  EXPECT_FALSE(cluster_running());  // the last user stopped it
  auto list = cli({"user", "list", "localhost"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "alice@localhost\n");  // the data survived the stop
  EXPECT_FALSE(cluster_running());
  // Unix socket only: the server was started with no TCP listener.
  auto conf = read_file(dir_ / "var/postgres/postgres.log");
  EXPECT_EQ(conf.find("listening on IPv4"), std::string::npos) << conf;
}

TEST_F(Embedded, SubcommandBesideARunningServerSharesTheCluster) {
  Background serve({PARLEY_BINARY, "serve", "--config", config_});
  ASSERT_TRUE(serve.wait_for_stderr("ready", 60)) << serve.stderr_text();
  ASSERT_TRUE(cluster_running());
  auto add = cli({"user", "add", "bob@localhost"}, "pw\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_TRUE(cluster_running()) << "the subcommand stopped the cluster under the server";
  EXPECT_EQ(cli({"user", "list", "localhost"}).out, "bob@localhost\n");
  EXPECT_TRUE(cluster_running());
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  EXPECT_FALSE(cluster_running());
}

TEST_F(Embedded, SecretKeyIsCreatedPrivateAndKeptOutOfTheDatabase) {
  ASSERT_EQ(cli({"user", "add", "alice@localhost"}, "pw\n").exit_code, 0);
  auto key = dir_ / "var/secret.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  auto perms = std::filesystem::status(key).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  EXPECT_EQ(std::filesystem::file_size(key), 32u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "var/postgres/secret.key"));
}

}  // namespace
}  // namespace parley::test
