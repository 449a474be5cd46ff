#include "server/plugins.hpp"

#include <dlfcn.h>

#include <stdexcept>

#include "server/log.hpp"

namespace parley::server {

void load_plugins(const std::vector<std::filesystem::path>& files, ModuleRegistry& registry) {
  for (const auto& file : files) {
    // RTLD_NOW: a missing symbol is an error now, not a crash while serving.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      throw std::runtime_error("cannot load plugin " + file.string() + ": " + ::dlerror());
    }
    auto* registrar = reinterpret_cast<RegisterModulesFunction>(::dlsym(handle, kRegisterModulesSymbol));
    if (registrar == nullptr) {
      throw std::runtime_error("plugin " + file.string() + " has no " + kRegisterModulesSymbol +
                               " function (extern \"C\")");
    }
    auto before = registry.names().size();
    registrar(registry);
    log::info("loaded plugin {} ({} module(s))", file.string(), registry.names().size() - before);
  }
}

}  // namespace parley::server
