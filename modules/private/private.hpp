#pragma once
#include "server/module_api.hpp"

// The folder is modules/private/; "private" is a C++ keyword, hence the namespace's name.
namespace parley::modules::private_storage {
server::ModuleInfo info();
}
