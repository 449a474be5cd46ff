// parley serve: loads the configuration, opens and migrates the database, starts the server
// and runs until SIGINT or SIGTERM, then shuts down gracefully.
#include <signal.h>

#include "server/cli/commands.hpp"
#include "server/log.hpp"
#include "server/server.hpp"

namespace parley::server::cli {
namespace {

// Blocks SIGINT and SIGTERM (before any thread starts, so every thread inherits the mask)
// and waits for one of them synchronously.
class ShutdownSignals {
 public:
  ShutdownSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  int wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_{};
};

}  // namespace

int serve_command(Deployment& deployment) {
  ShutdownSignals signals;
  const Config& config = deployment.config();
  check_modules(config, deployment.registry());
  deployment.ensure_dev_certificates();
  AccountStore& accounts = deployment.accounts();  // opens the database and migrates it
  Server server(config, deployment.registry(), deployment.database(), accounts, deployment.secret());
  server.start();
  log::info("parley {} ready: {} host(s), database {}", PARLEY_VERSION, config.hosts.size(),
            config.database.url ? "from [database] url"
                                : "embedded in " + (config.server.data_dir / "postgres").string());
  if (deployment.dev()) {
    auto ca = (config.server.data_dir / "certs" / "ca.pem").string();
    log::info("development setup: clients must trust the CA certificate {}", ca);
    log::info("add an account with: build/parley user add alice@localhost --dev");
    log::info("then connect a client as alice@localhost to 127.0.0.1 port 5222 (STARTTLS) or 5223 (direct TLS)");
  }
  int sig = signals.wait();
  log::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  log::info("stopped");
  return 0;
}

}  // namespace parley::server::cli
