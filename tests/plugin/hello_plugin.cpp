// A third-party module for the tests, built as a shared object against the installed module
// API only: answers iq get {urn:example:hello}hello with its configured greeting, and takes
// the remote domain echo.example (route/remote), whose every address echoes messages back.
#include "server/module_api.hpp"

namespace {

using namespace parley::server;

class Hello final : public Module {
 public:
  void start(HostContext& host) override {
    std::string greeting = host.settings().string("greeting", "hello");
    host.add_disco_feature("urn:example:hello");
    host.hook("iq-get/host/urn:example:hello:hello", [&host, greeting](Event& ev) {
      Stanza reply = make_result(ev.stanza);
      reply.element.add_child("hello", "urn:example:hello").add_text(greeting);
      host.send(std::move(reply));
      return Verdict::handled;
    });
    host.hook("route/remote", [&host](Event& ev) {
      Stanza& st = ev.stanza;
      if (st.kind != StanzaKind::message || !st.to || st.to->domain() != "echo.example") return Verdict::pass;
      Stanza echo = st;
      echo.from = st.to;
      echo.to = st.from;
      echo.sync_addresses();
      host.send(std::move(echo));
      return Verdict::handled;
    });
  }
};

}  // namespace

extern "C" void parley_register_modules(ModuleRegistry& registry) {
  registry.add({"hello", "a test plugin", [] { return std::make_unique<Hello>(); }});
}
