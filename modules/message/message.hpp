#pragma once
#include "server/module_api.hpp"

namespace parley::modules::message {
server::ModuleInfo info();
}
