// parley: one binary, subcommands in the spirit of prosodyctl and ejabberdctl.
#include "server/cli/commands.hpp"
#include "server/module_api.hpp"

int main(int argc, char** argv) {
  parley::server::ModuleRegistry registry;
  parley::server::register_builtin_modules(registry);
  return parley::server::cli::run(argc, argv, registry);
}
