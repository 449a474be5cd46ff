#include "server/server_secret.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace parley::server {
namespace {

namespace fs = std::filesystem;

class SecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "parley-secret-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SecretFile, CreatedWithMode0600AndReused) {
  auto file = dir_ / "sub" / "secret.key";
  auto a = ServerSecret::load_or_create(file);
  struct stat st{};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto b = ServerSecret::load_or_create(file);
  EXPECT_EQ(a.derive("x"), b.derive("x"));
  EXPECT_NE(a.derive("x"), a.derive("y"));
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "sub"), fs::directory_iterator()), 1);
}

TEST_F(SecretFile, ReadableByOthersIsRefused) {
  auto file = dir_ / "secret.key";
  { auto s = ServerSecret::load_or_create(file); }
  fs::permissions(file, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  try {
    ServerSecret::load_or_create(file);
    FAIL() << "a world-readable key file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
}

TEST_F(SecretFile, WrongSizeIsRefused) {
  auto file = dir_ / "secret.key";
  { std::ofstream(file) << "short"; }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_THROW(ServerSecret::load_or_create(file), std::runtime_error);
}

}  // namespace
}  // namespace parley::server
