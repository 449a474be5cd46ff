#pragma once
#include "server/module_api.hpp"

// The folder is modules/register/; "register" is a C++ keyword, hence the namespace's name.
namespace parley::modules::registration {
server::ModuleInfo info();
}
