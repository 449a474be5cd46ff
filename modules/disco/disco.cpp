// XEP-0030 Service Discovery: what the server is and which features its enabled modules
// offer (each module adds its own with HostContext::add_disco_feature), and the same for an
// account asking about itself.
#include "modules/disco/disco.hpp"

namespace parley::modules::disco {
namespace {

constexpr std::string_view kInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kItems = "http://jabber.org/protocol/disco#items";

server::Stanza info_reply(const server::Stanza& request, server::HostContext& host, bool account) {
  auto reply = server::make_result(request);
  auto& query = reply.element.add_child("query", std::string(kInfo));
  auto& identity = query.add_child("identity", std::string(kInfo));
  if (account) {
    identity.set_attr("category", "account");
    identity.set_attr("type", "registered");
  } else {
    identity.set_attr("category", "server");
    identity.set_attr("type", "im");
    identity.set_attr("name", "parley");
  }
  std::vector<std::string> features{std::string(kInfo), std::string(kItems)};
  for (auto& f : host.disco_features(account)) features.push_back(std::move(f));
  std::sort(features.begin(), features.end());
  features.erase(std::unique(features.begin(), features.end()), features.end());
  for (const auto& f : features) query.add_child("feature", std::string(kInfo)).set_attr("var", f);
  return reply;
}

class Disco final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    auto answer = [&host](bool account, bool items) {
      return [&host, account, items](server::Event& ev) {
        const server::xml::Element* query = nullptr;
        for (const auto& c : ev.stanza.element.children()) query = &c;
        if (query != nullptr && query->attr("node")) {
          // No nodes are published here (XEP-0030 §3.1: item-not-found for an unknown node).
          host.send(server::make_error(ev.stanza, server::StanzaError::item_not_found()));
        } else if (items) {
          auto reply = server::make_result(ev.stanza);
          reply.element.add_child("query", std::string(kItems));
          host.send(std::move(reply));
        } else {
          host.send(info_reply(ev.stanza, host, account));
        }
        return server::Verdict::handled;
      };
    };
    host.hook("iq-get/host/http://jabber.org/protocol/disco#info:query", answer(false, false));
    host.hook("iq-get/host/http://jabber.org/protocol/disco#items:query", answer(false, true));
    // An account asking about itself. Other people's accounts get service-unavailable until
    // subscriptions (roster) can say who may ask.
    host.hook("iq-get/self/http://jabber.org/protocol/disco#info:query", answer(true, false));
    host.hook("iq-get/self/http://jabber.org/protocol/disco#items:query", answer(true, true));
  }
};

}  // namespace

server::ModuleInfo info() {
  return {"disco", "XEP-0030: service discovery of the server and of one's own account",
          [] { return std::make_unique<Disco>(); }};
}

}  // namespace parley::modules::disco
