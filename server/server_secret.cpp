#include "server/server_secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "server/crypto.hpp"

namespace fs = std::filesystem;

namespace parley::server {
namespace {

[[noreturn]] void fail(const fs::path& file, std::string_view what) {
  throw std::runtime_error(fmt::format("secret key file {}: {}", file.string(), what));
}

std::string read_key(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) fail(file, std::strerror(errno));
  struct stat st{};
  ::fstat(fd, &st);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    fail(file, fmt::format("mode {:o} lets others read it; run: chmod 600 {}",
                           st.st_mode & 0777, file.string()));
  }
  std::string key(ServerSecret::kSize + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(ServerSecret::kSize)) {
    OPENSSL_cleanse(key.data(), key.size());
    fail(file, fmt::format("must hold exactly {} bytes", ServerSecret::kSize));
  }
  key.resize(ServerSecret::kSize);
  return key;
}

// Writes a fresh key under a temporary name, then link(2)s it into place: link fails if
// another process won the race, and then both read the winner's key.
void create_key(const fs::path& file) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fs::path tmp = file;
  tmp += fmt::format(".tmp.{}", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail(tmp, std::strerror(errno));
  std::string key = crypto::random_bytes(ServerSecret::kSize);
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
            ::fsync(fd) == 0;
  OPENSSL_cleanse(key.data(), key.size());
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(tmp, std::strerror(errno));
  }
  int rc = ::link(tmp.c_str(), file.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err != EEXIST) fail(file, std::strerror(err));
}

}  // namespace

ServerSecret ServerSecret::load_or_create(const fs::path& file) {
  if (!fs::exists(file)) create_key(file);
  return ServerSecret(read_key(file));
}

ServerSecret ServerSecret::from_bytes(std::string key) {
  if (key.size() != kSize) throw std::invalid_argument("a server secret is 32 bytes");
  return ServerSecret(std::move(key));
}

ServerSecret::~ServerSecret() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string ServerSecret::derive(std::string_view purpose) const {
  return crypto::hkdf_sha256(key_, purpose, 32);
}

}  // namespace parley::server
