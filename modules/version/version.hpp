#pragma once
#include "server/module_api.hpp"

namespace parley::modules::version {
server::ModuleInfo info();
}
