#pragma once
#include "server/module_api.hpp"

namespace parley::modules::stream_management {
server::ModuleInfo info();
}
