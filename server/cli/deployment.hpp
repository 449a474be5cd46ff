#pragma once
// What a subcommand needs of an installation, opened on first use: the configuration, the
// server secret, the database (the embedded cluster or [database] url) and the stores.
// Not thread-safe: used by the command line's main thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/accounts.hpp"
#include "server/cli/options.hpp"
#include "server/config.hpp"
#include "server/credentials.hpp"
#include "server/module_api.hpp"
#include "server/server_secret.hpp"
#include "storage/database.hpp"
#include "storage/embedded_cluster.hpp"

namespace parley::server::cli {

class Deployment {
 public:
  /// Loads the configuration named by the options (--config, --dev, $PARLEY_CONFIG or
  /// /etc/parley/parley.toml) and the plugins it names. Throws ConfigError or UsageError.
  Deployment(const Options& options, const ModuleRegistry& registry);
  ~Deployment();

  const Config& config() const { return config_; }
  bool dev() const { return dev_; }
  /// The built-in modules plus those of the configured plugins.
  const ModuleRegistry& registry() const { return registry_; }

  const ServerSecret& secret();
  /// Opens the pool; starts the embedded cluster when there is no [database] url.
  storage::Database& database();
  /// Applies pending migrations; returns the files applied now.
  std::vector<std::string> migrate();
  /// The account store over a migrated database.
  AccountStore& accounts();
  /// In --dev, writes the development CA and certificates if they are missing.
  void ensure_dev_certificates();

 private:
  Config config_;
  ModuleRegistry registry_;
  bool dev_ = false;
  bool migrated_ = false;
  std::optional<ServerSecret> secret_;
  std::unique_ptr<storage::EmbeddedCluster> cluster_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<CredentialVault> vault_;
  std::unique_ptr<AccountStore> accounts_;
};

}  // namespace parley::server::cli
