#pragma once
// A private PostgreSQL cluster under the server's data directory, for development, tests
// and small deployments that leave `[database] url` unset.
//
// Layout: <data_dir>/postgres/ (mode 0700, owned by the `postgres` user when parley runs as
// root) holds the cluster in data/, its unix socket and postgres.log. It listens on no TCP
// port. Several parley processes of one deployment (serve, and `parley user ...` run beside
// it) share the cluster: the first to need it starts it, the last to let go stops it. This is
// kept with two flock(2) locks in <data_dir>: postgres.lock serialises starting and stopping,
// postgres.users is held shared by every process using the cluster. A process that dies holds
// no lock any more; the cluster then keeps running until the next user lets go of it.
//
// Not thread-safe: one object per process, used at start-up and shutdown.

#include <filesystem>
#include <string>

namespace parley::storage {

class EmbeddedCluster {
 public:
  explicit EmbeddedCluster(const std::filesystem::path& data_dir);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  /// Creates the cluster on first use (initdb), starts it unless it runs already, creates
  /// the `parley` database, and registers this process as a user. Throws std::runtime_error
  /// with what went wrong and where the PostgreSQL log is.
  void start();

  /// Lets go of the cluster; stops it if no other process uses it. Idempotent.
  void release() noexcept;

  /// libpq conninfo for a database of this cluster.
  std::string conninfo(const std::string& database = "parley") const;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  void prepare_directory();
  void initdb_if_needed();
  bool running();
  void start_server();
  void create_database();

  std::filesystem::path data_dir_;
  std::filesystem::path dir_;
  int start_lock_fd_ = -1;
  int users_lock_fd_ = -1;
};

/// The directory holding initdb and pg_ctl: $PARLEY_PG_BINDIR, else the newest
/// /usr/lib/postgresql/<version>/bin. Throws if none is installed.
std::filesystem::path postgres_bindir();

}  // namespace parley::storage
