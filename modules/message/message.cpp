// RFC 6121 §8.5: delivery of messages to local accounts. To a full JID: that session, or,
// if it is gone, as if to the bare JID for chat and normal, nowhere for headline (§8.5.3.2.1). To a bare JID: the available resources
// with the highest non-negative priority for chat and normal messages, every available
// resource with non-negative priority for headlines (§8.5.2.1). With nobody available a
// headline is dropped and any other message passes on, to offline storage when it is
// enabled, else to the sender as service-unavailable (§8.5.2.2.1).
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
      // RFC 6121 §8.5.3.2.1, the resource is gone: a headline was for that resource only,
      // and goes nowhere (no error either, like Prosody and ejabberd: it would tell the
      // sender the resource went offline); chat and normal go on as if to the bare JID;
      // groupchat gets service-unavailable and error is ignored (to_account).
      if (ev.stanza.type == "headline") return Verdict::dropped;
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
    if (targets.empty()) {
      // RFC 6121 §8.5.2.2.1: with no available resource a headline is silently ignored (it is
      // not worth storing, XEP-0160 §3, and an error would tell the sender she is offline).
      if (type == "headline") return Verdict::dropped;
      return Verdict::pass;  // offline storage, or the default error
    }
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
