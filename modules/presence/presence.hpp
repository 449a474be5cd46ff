#pragma once
#include "server/module_api.hpp"

namespace parley::modules::presence {
server::ModuleInfo info();
}
