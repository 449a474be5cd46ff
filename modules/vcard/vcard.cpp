// XEP-0054 vcard-temp: an account publishes its vCard on its server, which answers for it:
// to the account itself (iq without 'to') and to anyone asking its bare JID.
#include <boost/asio/use_awaitable.hpp>

#include "modules/private/xml_text.hpp"
#include "modules/vcard/vcard.hpp"
#include "modules/vcard/vcard_store.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::vcard {
namespace {

using server::Event;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::Verdict;
using server::xml::Element;

constexpr std::string_view kNs = "vcard-temp";

// An error reply without the request's vCard (it may be large; the sender has it).
Stanza error_reply(const Stanza& request, const StanzaError& error) {
  auto reply = server::make_error(request, error);
  reply.element.remove_children("vCard", kNs);
  return reply;
}

const Element& vcard_of(const Stanza& st) {
  for (const auto& child : st.element.children()) return child;
  return st.element;  // not reached: the router dispatches iq get/set by their payload
}

class Vcard final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    max_bytes_ = static_cast<std::size_t>(host.settings().integer("max_bytes", 64 * 1024, 256, 16 * 1024 * 1024));
    store::prepare(host.storage().database());
    // XEP-0054 §4: the server and its accounts support vcard-temp.
    host.add_disco_feature(std::string(kNs));
    host.add_disco_feature(std::string(kNs), true);
    host.hook_async("iq-get/self/vcard-temp:vCard", [this](Event& ev) { return get(ev, true); });
    host.hook_async("iq-get/bare/vcard-temp:vCard", [this](Event& ev) { return get(ev, false); });
    host.hook_async("iq-set/self/vcard-temp:vCard", [this](Event& ev) { return set(ev); });
    // XEP-0054 §3.2: setting another entity's vCard is forbidden.
    host.hook("iq-set/bare/vcard-temp:vCard", [&host](Event& ev) {
      host.send(error_reply(ev.stanza, StanzaError::forbidden("a vCard is set by its own account only")));
      return Verdict::handled;
    });
  }

 private:
  // XEP-0054 §3.1: one's own vCard, or an empty <vCard/> when there is none (the spec allows
  // that or item-not-found; an empty vCard is what clients handle best for themselves).
  // §3.3: someone else's vCard, answered by the server; item-not-found both when there is no
  // vCard and when there is no such account, so the answer does not reveal which accounts exist.
  asio::awaitable<Verdict> get(Event& ev, bool own) {
    const Stanza& st = ev.stanza;
    std::optional<Jid> owner;
    if (own && ev.origin) owner = ev.origin->jid().bare();
    if (!own && st.to) owner = st.to->bare();
    if (!owner) co_return Verdict::pass;
    Jid account = *owner;
    auto query = [account](pqxx::connection& c) { return store::get(c, account); };
    auto found = co_await host_->storage().run(std::move(query));
    if (!found.ok()) {
      server::log::warning("vcard: cannot read the vCard of {}: {}", account.str(), found.error().message);
      host_->send(error_reply(st, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    std::optional<Element> stored;
    if (*found) {
      stored = private_storage::read_xml(**found);
      if (!stored) server::log::error("vcard: the stored vCard of {} is unreadable", account.str());
    }
    if (!stored && !own) {
      host_->send(error_reply(st, StanzaError::item_not_found()));
      co_return Verdict::handled;
    }
    auto reply = server::make_result(st);
    if (stored) {
      reply.element.add_child(std::move(*stored));
    } else {
      reply.element.add_child("vCard", std::string(kNs));
    }
    host_->send(std::move(reply));
    co_return Verdict::handled;
  }

  // XEP-0054 §3.2: the whole vCard replaces the stored one. An empty <vCard/> removes it.
  asio::awaitable<Verdict> set(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    const Element& vcard = vcard_of(ev.stanza);
    std::optional<std::string> xml;
    if (!vcard.children().empty()) {
      xml = private_storage::write_xml(vcard);
      if (xml->size() > max_bytes_) {
        host_->send(error_reply(ev.stanza, StanzaError::policy_violation(
                                               "a vCard is limited to " + std::to_string(max_bytes_) + " bytes")));
        co_return Verdict::handled;
      }
    }
    auto write = [account, xml](pqxx::connection& c) { store::set(c, account, xml); };
    auto r = co_await host_->storage().run(std::move(write));
    if (!r.ok()) {
      server::log::warning("vcard: cannot store the vCard of {}: {}", account.str(), r.error().message);
      host_->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    host_->send(server::make_result(ev.stanza));
    co_return Verdict::handled;
  }

  server::HostContext* host_ = nullptr;
  std::size_t max_bytes_ = 64 * 1024;
};

}  // namespace

server::ModuleInfo info() {
  return {"vcard", "XEP-0054: vcard-temp, each account's vCard kept by the server",
          [] { return std::make_unique<Vcard>(); }};
}

}  // namespace parley::modules::vcard
