#pragma once
#include "server/module_api.hpp"

namespace parley::modules::blocking {
server::ModuleInfo info();
}
