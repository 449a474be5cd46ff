#pragma once
// The subcommands of `parley`. Each returns the process exit status: 0 success, 1 failure
// (the message already printed), and throws UsageError for a malformed command line.

#include "server/cli/deployment.hpp"
#include "server/cli/options.hpp"
#include "server/module_api.hpp"

namespace parley::server::cli {

/// Dispatches argv to a subcommand; prints errors and returns the exit status.
int run(int argc, const char* const* argv, const ModuleRegistry& registry);

int serve_command(Deployment& deployment);
int migrate_command(Deployment& deployment);
int user_command(const Options& options, Deployment& deployment);
int cert_command(const Options& options, const ModuleRegistry& registry);
int check_command(Deployment& deployment);

/// Every host's modules exist in the registry; otherwise a ConfigError naming the host's
/// line and the module.
void check_modules(const Config& config, const ModuleRegistry& registry);

}  // namespace parley::server::cli
