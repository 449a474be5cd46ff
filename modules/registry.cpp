// The one list of built-in modules (STYLE.md: explicit, no static-initialisation tricks).
// Add a module here and it can be enabled per host with `modules = ["name", ...]`.

#include "server/module_api.hpp"

namespace parley::server {

void register_builtin_modules(ModuleRegistry& /*registry*/) {
  // No built-in modules yet: the first ones (message, ping, disco, ...) arrive with the router.
}

}  // namespace parley::server
