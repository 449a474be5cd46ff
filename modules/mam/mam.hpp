#pragma once
#include "server/module_api.hpp"

namespace parley::modules::mam {
server::ModuleInfo info();
}
