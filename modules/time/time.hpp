#pragma once
#include "server/module_api.hpp"

namespace parley::modules::time {
server::ModuleInfo info();
}
