#include <iostream>

#include "server/cli/commands.hpp"
#include "server/log.hpp"
#include "storage/migrator.hpp"

namespace parley::server::cli {

void check_modules(const Config& config, const ModuleRegistry& registry) {
  for (const auto& host : config.hosts) {
    for (const auto& name : host.modules) {
      if (registry.find(name) != nullptr) continue;
      std::string known;
      for (auto n : registry.names()) known += (known.empty() ? "" : ", ") + std::string(n);
      throw ConfigError(host.location.str() + ": host '" + host.domain + "': unknown module '" +
                        name + "' (known modules: " + (known.empty() ? "none yet" : known) + ")");
    }
  }
}

int migrate_command(Deployment& deployment) {
  auto applied = deployment.migrate();
  if (applied.empty()) {
    std::cout << "database is up to date\n";
  } else {
    for (const auto& file : applied) std::cout << "applied " << file << '\n';
  }
  return 0;
}

int run(int argc, const char* const* argv, const ModuleRegistry& registry) {
  try {
    Options options = parse_options(argc, argv);
    if (options.help || options.args.empty()) {
      std::cout << kUsage;
      return options.help ? 0 : 2;
    }
    const std::string& command = options.args[0];
    if (command == "cert") return cert_command(options, registry);
    if (command != "serve" && command != "migrate" && command != "user" && command != "check") {
      throw UsageError("unknown command '" + command + "'");
    }
    if ((command == "serve" || command == "migrate" || command == "check") && options.args.size() > 1) {
      throw UsageError("'" + command + "' takes no arguments");
    }
    Deployment deployment(options, registry);
    if (command == "serve") return serve_command(deployment);
    if (command == "migrate") return migrate_command(deployment);
    if (command == "user") return user_command(options, deployment);
    return check_command(deployment);
  } catch (const UsageError& e) {
    std::cerr << "parley: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const ConfigError& e) {
    std::cerr << "parley: configuration error: " << e.what() << '\n';
    return 1;
  } catch (const storage::MigrationError& e) {
    std::cerr << "parley: migration error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace parley::server::cli
