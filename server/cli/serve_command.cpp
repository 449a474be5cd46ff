// parley serve: loads the configuration, opens and migrates the database, starts the server
// and runs until SIGINT or SIGTERM, then shuts down gracefully.
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>

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

// A word for a POSIX shell command line: as is when that is safe, else single-quoted.
std::string shell_word(const std::string& word) {
  constexpr std::string_view kSafe = "/._-+:@,=";
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || kSafe.find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// What a developer needs after `parley serve --dev`: the CA to trust, a command to paste
// that adds an account (this very binary, in this directory: --dev keeps its state in
// ./var/dev), and where to connect.
void print_dev_help(const Config& config, const Server& server) {
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  // Rebuilt while running: the same path holds the new binary, which is what to run.
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.ends_with(kDeleted)) exe.resize(exe.size() - kDeleted.size());
  auto cwd = std::filesystem::current_path(ec);
  auto ca = (config.server.data_dir / "certs" / "ca.pem").string();
  log::info("development setup: clients must trust the CA certificate {}", ca);
  log::info("add an account with: cd {} && {} user add alice@localhost --dev", shell_word(cwd.string()),
            shell_word(exe.empty() ? std::string("parley") : exe));
  std::string where;
  for (const auto& [type, endpoint] : server.endpoints()) {
    if (type != ListenType::c2s && type != ListenType::c2s_tls) continue;
    if (!where.empty()) where += " or ";
    where += endpoint.address().to_string() + " port " + std::to_string(endpoint.port()) +
             (type == ListenType::c2s ? " (STARTTLS)" : " (direct TLS)");
  }
  log::info("then connect a client as alice@localhost to {}", where);
}

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
  if (deployment.dev()) print_dev_help(config, server);
  int sig = signals.wait();
  log::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  log::info("stopped");
  return 0;
}

}  // namespace parley::server::cli
