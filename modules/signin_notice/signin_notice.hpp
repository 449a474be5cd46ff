#pragma once
#include "server/module_api.hpp"

namespace parley::modules::signin_notice {
server::ModuleInfo info();
}
