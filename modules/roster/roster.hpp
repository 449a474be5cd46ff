#pragma once
#include "server/module_api.hpp"

namespace parley::modules::roster {
server::ModuleInfo info();
}
