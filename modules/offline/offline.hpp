#pragma once
#include "server/module_api.hpp"

namespace parley::modules::offline {
server::ModuleInfo info();
}
