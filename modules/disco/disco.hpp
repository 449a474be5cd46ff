#pragma once
#include "server/module_api.hpp"

namespace parley::modules::disco {
server::ModuleInfo info();
}
