#pragma once
// The module API: the one header through which modules (modules/*/) reach the core, and the
// core reaches modules only through the registry filled by register_builtin_modules(),
// defined in modules/registry.cpp. The core never includes a module.
//
// This is the registry part; the host context (events, stream features, sending stanzas,
// storage) comes with the router.

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace parley::server {

/// A feature enabled per host with `modules = [...]`.
class Module {
 public:
  virtual ~Module() = default;
};

struct ModuleInfo {
  std::string_view name;         ///< the name used in a host's `modules = [...]`
  std::string_view description;  ///< one line, for `parley check` and the docs
  std::function<std::unique_ptr<Module>()> create;
};

/// The modules this binary knows. Filled once at start-up, read-only afterwards.
class ModuleRegistry {
 public:
  void add(ModuleInfo info) { modules_.push_back(std::move(info)); }
  const ModuleInfo* find(std::string_view name) const {
    for (const auto& m : modules_) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& m : modules_) out.push_back(m.name);
    return out;
  }

 private:
  std::vector<ModuleInfo> modules_;
};

/// Lists every built-in module, in one place (modules/registry.cpp).
void register_builtin_modules(ModuleRegistry& registry);

}  // namespace parley::server
