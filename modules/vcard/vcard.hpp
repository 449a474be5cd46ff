#pragma once
#include "server/module_api.hpp"

namespace parley::modules::vcard {
server::ModuleInfo info();
}
