#pragma once
#include "server/module_api.hpp"

namespace parley::modules::ping {
server::ModuleInfo info();
}
