// RFC 6121 §8.5: delivery of messages to local accounts. To a full JID: that session, or,
// if it is gone, as if to the bare JID (§8.5.3.2.1). To a bare JID: the available resources
// with the highest non-negative priority for chat and normal messages, every available
// resource with non-negative priority for headlines (§8.5.2.1). With nobody available the
// message passes on, to offline storage when it is enabled, else to the sender as
// service-unavailable.
#include "modules/message/message.hpp"

namespace parley::modules::message {
namespace {

using server::Verdict;

class Message final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host.hook("message/full", [&host](server::Event& ev) {
      if (auto session = host.sessions().find(*ev.stanza.to)) {
        session->send(std::move(ev.stanza));
        return Verdict::handled;
      }
      return to_account(host, ev);
    });
    host.hook("message/bare", [&host](server::Event& ev) { return to_account(host, ev); });
  }

 private:
  static Verdict to_account(server::HostContext& host, server::Event& ev) {
    const std::string& type = ev.stanza.type;
    if (type == "error") return Verdict::dropped;  // RFC 6121 §8.5.2.1.4: silently ignored
    if (type == "groupchat") {
      host.send(server::make_error(ev.stanza, server::StanzaError::service_unavailable()));
      return Verdict::handled;
    }
    std::vector<std::shared_ptr<server::ClientSession>> targets;
    int best = 0;
    for (auto& s : host.sessions().of_account(ev.stanza.to->bare())) {
      if (!s->available() || s->priority() < 0) continue;
      if (type != "headline") {
        if (!targets.empty() && s->priority() < best) continue;
        if (s->priority() > best || targets.empty()) {
          targets.clear();
          best = s->priority();
        }
      }
      targets.push_back(std::move(s));
    }
    if (targets.empty()) return Verdict::pass;  // offline storage, or the default error
    for (std::size_t i = 0; i + 1 < targets.size(); ++i) targets[i]->send(ev.stanza);
    targets.back()->send(std::move(ev.stanza));
    return Verdict::handled;
  }
};

}  // namespace

server::ModuleInfo info() {
  return {"message", "RFC 6121 §8.5: message delivery to local accounts and resources",
          [] { return std::make_unique<Message>(); }};
}

}  // namespace parley::modules::message
