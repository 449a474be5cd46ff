// parley cert dev --out DIR --domain D [--domain D2 ...]
#include <iostream>

#include "server/cli/commands.hpp"
#include "server/dev_certs.hpp"
#include "server/jid.hpp"

namespace parley::server::cli {

int cert_command(const Options& options, const ModuleRegistry& registry) {
  if (options.args.size() != 2 || options.args[1] != "dev") {
    throw UsageError("usage: parley cert dev --out DIR --domain D [--domain D2 ...]");
  }
  std::optional<std::filesystem::path> out;
  if (options.out) out = *options.out;
  std::vector<std::string> domains;
  for (const auto& d : options.domains) {
    auto normalized = normalize_domain(d);
    if (!normalized) throw UsageError("'" + d + "' is not a domain");
    domains.push_back(*normalized);
  }
  // With a configuration, the defaults come from it: its hosts, and under --dev var/dev/certs.
  if (options.dev || options.config) {
    Deployment deployment(options, registry);
    if (!out && deployment.dev()) out = deployment.config().server.data_dir / "certs";
    if (domains.empty()) {
      for (const auto& host : deployment.config().hosts) domains.push_back(host.domain);
    }
  }
  if (!out) throw UsageError("cert dev needs --out DIR");
  if (domains.empty()) throw UsageError("cert dev needs at least one --domain D");
  write_dev_certificates(*out, domains);
  std::cout << "wrote " << (*out / "ca.pem").string() << " and " << (*out / "ca.key").string()
            << " (the development CA)\n";
  for (const auto& d : domains) {
    std::cout << "wrote " << (*out / (d + ".pem")).string() << " and "
              << (*out / (d + ".key")).string() << '\n';
  }
  std::cout << "These are for development and tests only: clients and peers must trust "
            << (*out / "ca.pem").string() << ".\n";
  return 0;
}

}  // namespace parley::server::cli
