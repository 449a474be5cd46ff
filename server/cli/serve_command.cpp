// parley serve: loads the configuration, opens and migrates the database, starts the server
// and runs until SIGINT or SIGTERM, then shuts down gracefully.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
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
  /// Waits at most `d` for one of them: the signal, or 0.
  int wait_for(std::chrono::milliseconds d) {
    timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1'000'000L};
    int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig < 0 ? 0 : sig;
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

// A server may well start before its database (boot order, a database restarting): wait for
// it with a log line per attempt, for ever or for [database] startup_timeout, and stay
// stoppable by SIGINT/SIGTERM meanwhile. The exit status when serving must not go on (0 for a
// signal, 1 when startup_timeout passed), nothing once the database answered. A database
// that answers and refuses (no such database or role, authentication failed) is not waited
// for: that needs a change of configuration, so the start fails at once and says so.
std::optional<int> wait_for_database(Deployment& deployment, ShutdownSignals& signals) {
  const auto limit = deployment.config().database.startup_timeout;
  const auto start = std::chrono::steady_clock::now();
  storage::RetryPause pauses;
  for (;;) {
    std::chrono::milliseconds pause{0};
    try {
      auto lease = deployment.database().acquire();
      return std::nullopt;
    } catch (const std::exception& e) {
      if (storage::connect_rejected(e)) {
        std::string why = e.what();
        why = why.substr(0, why.find('\n'));
        throw std::runtime_error("the database refused the connection (" + why + ")" +
                                 (deployment.config().database.url ? "; check [database] url" : ""));
      }
      // Only "cannot reach it" is waited for; anything else (a broken embedded cluster)
      // fails the start as before.
      if (storage::translate_exception(e).kind != storage::Error::Kind::unavailable) throw;
      auto waited = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
      if (limit.count() > 0 && waited >= limit) {
        log::error("database unreachable for {} s ([database] startup_timeout): {}", waited.count(),
                   storage::translate_exception(e).message);
        return 1;
      }
      // No sooner than the pool's own next attempt (its backoff, reconnect_delay_max): an
      // attempt before then would fail without trying.
      pause = std::max(pauses.next(), deployment.database().next_attempt_in());
      log::warning("database unreachable at start, retrying in {} ms: {}", pause.count(),
                   storage::translate_exception(e).message);
    }
    if (int sig = signals.wait_for(pause); sig != 0) {
      log::info("received {} while waiting for the database, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return 0;
    }
  }
}

}  // namespace

int serve_command(Deployment& deployment) {
  ShutdownSignals signals;
  const Config& config = deployment.config();
  check_modules(config, deployment.registry());
  deployment.ensure_dev_certificates();
  if (auto stop = wait_for_database(deployment, signals)) return *stop;
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
