// parley check: configuration, certificates, database and migrations, each reported on its
// own line; exit status 1 if anything is wrong.
#include <ctime>
#include <iostream>

#include "server/cert_check.hpp"
#include "server/cli/commands.hpp"
#include "storage/migrator.hpp"

namespace parley::server::cli {
namespace {

struct Checker {
  int problems = 0;
  void ok(const std::string& what) { std::cout << "ok       " << what << '\n'; }
  void problem(const std::string& what) {
    std::cout << "PROBLEM  " << what << '\n';
    ++problems;
  }
};

std::string date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

void check_pair(Checker& c, const Config& config, const std::filesystem::path& cert,
                const std::filesystem::path& key, const std::vector<std::string>& domains) {
  auto report = check_certificate(cert, key, domains, config.tls.ca_file);
  for (const auto& p : report.problems) c.problem(p);
  if (report.problems.empty()) {
    std::string names;
    for (const auto& d : domains) names += (names.empty() ? "" : ", ") + d;
    c.ok("certificate " + cert.string() + " for " + (names.empty() ? "(no host)" : names) +
         ", valid until " + date(report.not_after));
  }
}

void check_certificates(Checker& c, const Config& config) {
  std::vector<std::string> on_default_pair;
  for (const auto& host : config.hosts) {
    if (host.certificate && host.private_key) {
      check_pair(c, config, *host.certificate, *host.private_key, {host.domain});
    } else {
      on_default_pair.push_back(host.domain);
    }
  }
  if (config.tls.certificate && config.tls.private_key) {
    check_pair(c, config, *config.tls.certificate, *config.tls.private_key, on_default_pair);
  } else {
    for (const auto& d : on_default_pair) {
      c.problem("host " + d + " has no certificate: set [tls] certificate and private_key, or "
                "the host's own certificate and private_key");
    }
  }
}

void check_database(Checker& c, Deployment& deployment) {
  try {
    auto lease = deployment.database().acquire();
    c.ok("database reachable");
    auto pending = storage::pending_migrations(*lease, storage::builtin_migrations());
    if (pending.empty()) {
      c.ok("database migrations current");
    } else {
      c.problem(std::to_string(pending.size()) + " migration(s) not applied (first: " +
                pending.front() + "): run parley migrate, or start parley serve");
    }
  } catch (const std::exception& e) {
    c.problem(std::string("database: ") + e.what());
  }
}

}  // namespace

int check_command(Deployment& deployment) {
  Checker c;
  const Config& config = deployment.config();
  c.ok("configuration " + (config.file.empty() ? std::string("--dev") : config.file.string()) +
       ": " + std::to_string(config.hosts.size()) + " host(s), " +
       std::to_string(config.listen.size()) + " listener(s)");
  try {
    check_modules(config, deployment.registry());
    c.ok("modules known");
  } catch (const ConfigError& e) {
    c.problem(e.what());
  }
  deployment.ensure_dev_certificates();
  check_certificates(c, config);
  try {
    if (!std::filesystem::exists(config.security.key_file)) {
      c.ok("secret key " + config.security.key_file.string() + " will be created at first use");
    } else {
      deployment.secret();
      c.ok("secret key " + config.security.key_file.string());
    }
  } catch (const std::exception& e) {
    c.problem(e.what());
  }
  check_database(c, deployment);
  if (c.problems > 0) std::cout << c.problems << " problem(s) found\n";
  return c.problems == 0 ? 0 : 1;
}

}  // namespace parley::server::cli
