// XEP-0092 Software Version of the server. The operating system is not disclosed.
#include "modules/version/version.hpp"

namespace parley::modules::version {
namespace {

constexpr std::string_view kNs = "jabber:iq:version";

class Version final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host.add_disco_feature(std::string(kNs));
    host.hook("iq-get/host/jabber:iq:version:query", [&host](server::Event& ev) {
      auto reply = server::make_result(ev.stanza);
      auto& q = reply.element.add_child("query", std::string(kNs));
      q.add_child("name", std::string(kNs)).add_text("parley");
      q.add_child("version", std::string(kNs)).add_text(PARLEY_VERSION);
      host.send(std::move(reply));
      return server::Verdict::handled;
    });
  }
};

}  // namespace

server::ModuleInfo info() {
  return {"version", "XEP-0092: the server's name and version",
          [] { return std::make_unique<Version>(); }};
}

}  // namespace parley::modules::version
