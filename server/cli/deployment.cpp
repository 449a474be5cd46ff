#include "server/cli/deployment.hpp"

#include <cstdlib>
#include <filesystem>

#include "server/dev_certs.hpp"
#include "server/log.hpp"
#include "server/plugins.hpp"
#include "storage/migrator.hpp"

namespace fs = std::filesystem;

namespace parley::server::cli {
namespace {

fs::path config_path(const Options& options) {
  if (options.config) return *options.config;
  if (const char* env = std::getenv("PARLEY_CONFIG"); env != nullptr && *env != '\0') return env;
  fs::path system = "/etc/parley/parley.toml";
  if (fs::exists(system)) return system;
  throw UsageError("no configuration: pass --config FILE, or --dev for a development setup");
}

}  // namespace

Deployment::Deployment(const Options& options, const ModuleRegistry& registry)
    : registry_(registry), dev_(options.dev) {
  if (dev_) {
    std::vector<std::string> modules;
    for (auto name : registry.names()) modules.emplace_back(name);
    config_ = dev_config(fs::current_path(), std::move(modules));
  } else {
    config_ = load_config(config_path(options));
  }
  log::Level level;
  if (log::parse_level(config_.server.log_level, level)) log::set_level(level);
  load_plugins(config_.server.plugins, registry_);
}

Deployment::~Deployment() {
  // The stores and the pool go before the cluster they talk to.
  accounts_.reset();
  vault_.reset();
  database_.reset();
  if (cluster_) cluster_->release();
}

const ServerSecret& Deployment::secret() {
  if (!secret_) secret_.emplace(ServerSecret::load_or_create(config_.security.key_file));
  return *secret_;
}

storage::Database& Deployment::database() {
  if (database_) return *database_;
  std::string conninfo;
  if (config_.database.url) {
    conninfo = *config_.database.url;
    if (auto problem = storage::conninfo_problem(conninfo)) {
      throw ConfigError("[database] url is not a libpq URI or conninfo string: " + *problem);
    }
  } else {
    cluster_ = std::make_unique<storage::EmbeddedCluster>(config_.server.data_dir);
    cluster_->start();
    conninfo = cluster_->conninfo();
  }
  const auto& d = config_.database;
  storage::PoolOptions pool{d.pool_size, d.acquire_timeout, d.query_timeout, d.connect_timeout, d.reconnect_delay_max};
  database_ = std::make_unique<storage::Database>(conninfo, pool);
  database_->on_status_change([](bool reachable, const std::string& message) {
    if (reachable) {
      log::info("{}", message);
    } else {
      log::warning("{}", message);
    }
  });
  return *database_;
}

std::vector<std::string> Deployment::migrate() {
  auto lease = database().acquire();
  auto applied = storage::apply_migrations(*lease, storage::builtin_migrations());
  for (const auto& file : applied) log::info("applied migration {}", file);
  migrated_ = true;
  return applied;
}

AccountStore& Deployment::accounts() {
  if (accounts_) return *accounts_;
  if (!migrated_) migrate();
  vault_ = std::make_unique<CredentialVault>(secret());
  accounts_ = std::make_unique<AccountStore>(database(), *vault_, config_.security.scram_iterations);
  return *accounts_;
}

void Deployment::ensure_dev_certificates() {
  if (!dev_) return;
  auto dir = config_.server.data_dir / "certs";
  std::vector<std::string> domains;
  for (const auto& host : config_.hosts) domains.push_back(host.domain);
  if (!dev_certificates_present(dir, domains)) {
    write_dev_certificates(dir, domains);
    log::info("wrote development certificates to {} (trust {} in your client)", dir.string(),
              (dir / "ca.pem").string());
  }
}

}  // namespace parley::server::cli
