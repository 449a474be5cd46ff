// The one list of built-in modules (STYLE.md: explicit, no static-initialisation tricks).
// Add a module here and it can be enabled per host with `modules = ["name", ...]`.
// Federation (federation/) is not a per-host module; it is registered here too, so that the
// core reaches it without including it.

#include "federation/federation.hpp"
#include "modules/carbons/carbons.hpp"
#include "modules/disco/disco.hpp"
#include "modules/mam/mam.hpp"
#include "modules/message/message.hpp"
#include "modules/offline/offline.hpp"
#include "modules/ping/ping.hpp"
#include "modules/presence/presence.hpp"
#include "modules/roster/roster.hpp"
#include "modules/signin_notice/signin_notice.hpp"
#include "modules/stream_management/stream_management.hpp"
#include "modules/time/time.hpp"
#include "modules/version/version.hpp"
#include "modules/blocking/blocking.hpp"
#include "modules/private/private.hpp"
#include "modules/register/register.hpp"
#include "modules/vcard/vcard.hpp"
#include "server/module_api.hpp"

namespace parley::server {

void register_builtin_modules(ModuleRegistry& registry) {
  registry.add(modules::message::info());
  registry.add(modules::disco::info());
  registry.add(modules::ping::info());
  registry.add(modules::version::info());
  registry.add(modules::time::info());
  registry.add(modules::offline::info());
  registry.add(modules::carbons::info());
  registry.add(modules::roster::info());
  registry.add(modules::presence::info());
  registry.add(modules::blocking::info());
  registry.add(modules::vcard::info());
  registry.add(modules::private_storage::info());
  registry.add(modules::registration::info());
  registry.add(modules::mam::info());
  registry.add(modules::signin_notice::info());
  registry.add(modules::stream_management::info());
  registry.set_federation(&federation::make_federation);
}

}  // namespace parley::server
