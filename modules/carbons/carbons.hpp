#pragma once
#include "server/module_api.hpp"

namespace parley::modules::carbons {
server::ModuleInfo info();
}
