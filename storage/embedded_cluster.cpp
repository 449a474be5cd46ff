#include "storage/embedded_cluster.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

#include "storage/process.hpp"

namespace fs = std::filesystem;

namespace parley::storage {
namespace {

// PostgreSQL refuses to run as root; when we are root, the cluster belongs to `postgres`.
struct PostgresUser {
  bool as_root = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

PostgresUser postgres_user() {
  PostgresUser u;
  if (::geteuid() != 0) return u;
  struct passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error(
        "running as root, but there is no 'postgres' user to run the embedded PostgreSQL "
        "(install postgresql, or set [database] url)");
  }
  u.as_root = true;
  u.uid = pw->pw_uid;
  u.gid = pw->pw_gid;
  return u;
}

std::vector<std::string> as_postgres(const PostgresUser& user, std::vector<std::string> argv) {
  if (user.as_root) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

int open_lock(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  return fd;
}

void lock(int fd, int op) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("flock: ") + std::strerror(errno));
  }
}

// The postgres user must be able to walk down to its directory (o+x on every parent).
void check_reachable(const fs::path& dir, const PostgresUser& user) {
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) break;
    bool ok = (st.st_mode & S_IXOTH) || (st.st_uid == user.uid && (st.st_mode & S_IXUSR)) ||
              (st.st_gid == user.gid && (st.st_mode & S_IXGRP));
    if (!ok) {
      throw std::runtime_error(fmt::format(
          "the embedded PostgreSQL runs as the 'postgres' user, which cannot reach {}: {} is "
          "not searchable by others. Allow it (chmod o+x {}), or set [server] data_dir to a "
          "directory it can reach, or set [database] url",
          dir.string(), p.string(), p.string()));
    }
    if (p == p.root_path()) break;
  }
}

std::string quote_conninfo(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

fs::path postgres_bindir() {
  if (const char* env = std::getenv("PARLEY_PG_BINDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "initdb")) candidates.push_back(entry.path() / "bin");
  }
  if (candidates.empty()) {
    throw std::runtime_error(
        "PostgreSQL server binaries not found under /usr/lib/postgresql (install "
        "postgresql-15, set PARLEY_PG_BINDIR, or set [database] url)");
  }
  std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
    return std::atoi(a.parent_path().filename().c_str()) <
           std::atoi(b.parent_path().filename().c_str());
  });
  return candidates.back();
}

EmbeddedCluster::EmbeddedCluster(const fs::path& data_dir)
    : data_dir_(fs::absolute(data_dir).lexically_normal()), dir_(data_dir_ / "postgres") {}

EmbeddedCluster::~EmbeddedCluster() { release(); }

std::string EmbeddedCluster::conninfo(const std::string& database) const {
  return fmt::format("host={} port=5432 user=postgres dbname={}", quote_conninfo(dir_.string()),
                     quote_conninfo(database));
}

void EmbeddedCluster::start() {
  if (users_lock_fd_ >= 0) return;
  std::error_code ec;
  if (!fs::exists(data_dir_)) {
    fs::create_directories(data_dir_, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", data_dir_.string(), ec.message()));
    // 0711: others may pass through to postgres/ (the cluster runs as `postgres` when we
    // are root) but not list what is here; the secret key file itself is 0600.
    fs::permissions(data_dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  }
  start_lock_fd_ = open_lock(data_dir_ / "postgres.lock");
  lock(start_lock_fd_, LOCK_EX);
  try {
    prepare_directory();
    initdb_if_needed();
    if (!running()) start_server();
    create_database();
    users_lock_fd_ = open_lock(data_dir_ / "postgres.users");
    lock(users_lock_fd_, LOCK_SH);
  } catch (...) {
    ::close(start_lock_fd_);
    start_lock_fd_ = -1;
    throw;
  }
  lock(start_lock_fd_, LOCK_UN);
}

void EmbeddedCluster::release() noexcept {
  if (users_lock_fd_ < 0) return;
  try {
    lock(start_lock_fd_, LOCK_EX);
    lock(users_lock_fd_, LOCK_UN);
    // If nobody else holds the users lock, we were the last: stop the server.
    if (::flock(users_lock_fd_, LOCK_EX | LOCK_NB) == 0) {
      PostgresUser user = postgres_user();
      auto bin = postgres_bindir();
      run_process(as_postgres(user, {(bin / "pg_ctl").string(), "-D", (dir_ / "data").string(),
                                     "-m", "fast", "-w", "-t", "60", "stop"}),
                  dir_.string());
    }
  } catch (...) {
    // Nothing sensible to do while shutting down; the next user finds it running.
  }
  ::close(users_lock_fd_);
  ::close(start_lock_fd_);
  users_lock_fd_ = start_lock_fd_ = -1;
}

void EmbeddedCluster::prepare_directory() {
  PostgresUser user = postgres_user();
  std::string socket = (dir_ / ".s.PGSQL.5432").string();
  if (socket.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error(fmt::format(
        "the embedded PostgreSQL socket path {} is {} bytes, over the system's limit of {}: "
        "choose a shorter [server] data_dir",
        socket, socket.size(), sizeof(sockaddr_un::sun_path) - 1));
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir_.string(), ec.message()));
  if (::chmod(dir_.c_str(), 0700) != 0) {
    throw std::runtime_error(fmt::format("chmod {}: {}", dir_.string(), std::strerror(errno)));
  }
  if (user.as_root) {
    if (::chown(dir_.c_str(), user.uid, user.gid) != 0) {
      throw std::runtime_error(fmt::format("chown {}: {}", dir_.string(), std::strerror(errno)));
    }
    check_reachable(dir_, user);
  }
}

void EmbeddedCluster::initdb_if_needed() {
  if (fs::exists(dir_ / "data" / "PG_VERSION")) return;
  PostgresUser user = postgres_user();
  auto bin = postgres_bindir();
  // trust authentication is safe here: the only way in is the unix socket, in a directory
  // that only the cluster's owner (and root) can enter.
  auto r = run_process(as_postgres(user, {(bin / "initdb").string(), "-D", (dir_ / "data").string(),
                                          "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                          "--no-locale"}),
                       dir_.string());
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format("initdb of the embedded PostgreSQL in {} failed:\n{}",
                                         (dir_ / "data").string(), r.output));
  }
}

bool EmbeddedCluster::running() {
  PostgresUser user = postgres_user();
  auto bin = postgres_bindir();
  auto r = run_process(
      as_postgres(user, {(bin / "pg_ctl").string(), "-D", (dir_ / "data").string(), "status"}),
      dir_.string());
  return r.exit_code == 0;
}

void EmbeddedCluster::start_server() {
  PostgresUser user = postgres_user();
  auto bin = postgres_bindir();
  std::string options = fmt::format(
      "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700",
      dir_.string());
  auto log = dir_ / "postgres.log";
  auto r = run_process(as_postgres(user, {(bin / "pg_ctl").string(), "-D", (dir_ / "data").string(),
                                          "-l", log.string(), "-w", "-t", "60", "-o", options,
                                          "start"}),
                       dir_.string());
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format(
        "the embedded PostgreSQL in {} did not start:\n{}\n(see {})", dir_.string(), r.output,
        log.string()));
  }
}

void EmbeddedCluster::create_database() {
  try {
    pqxx::connection c{conninfo("postgres")};
    pqxx::nontransaction tx{c};
    auto r = tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", "parley");
    if (r.empty()) tx.exec("CREATE DATABASE parley");
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("embedded PostgreSQL in {}: {}", dir_.string(), e.what()));
  }
}

}  // namespace parley::storage
