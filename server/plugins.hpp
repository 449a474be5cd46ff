#pragma once
// Third-party modules as shared objects, named in `[server] plugins = [...]`. Each exports
//   extern "C" void parley_register_modules(parley::server::ModuleRegistry& registry);
// which adds its modules to the registry; hosts then enable them by name like built-in
// ones. A plugin must be built with the same compiler and parley headers as the server
// (the module API is C++, not a stable C ABI). Loaded once at start-up, never unloaded.

#include <filesystem>
#include <vector>

#include "server/module_api.hpp"

namespace parley::server {

/// Loads every plugin and lets it register its modules. Throws std::runtime_error naming the
/// file and the loader's reason.
void load_plugins(const std::vector<std::filesystem::path>& files, ModuleRegistry& registry);

}  // namespace parley::server
