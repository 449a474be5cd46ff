// XEP-0030 Service Discovery: what the server is and which features its enabled modules
// offer (each module adds its own with HostContext::add_disco_feature), and the same for an
// account, asked by the account itself or by a contact with a presence subscription to it.
#include "modules/disco/disco.hpp"

#include <algorithm>

#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::disco {
namespace {

using server::Event;
using server::Verdict;

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

// The answer to a query the requester may see (XEP-0030 §3.1, §4.1).
void answer(server::HostContext& host, const server::Stanza& request, bool account, bool items) {
  const server::xml::Element* query = nullptr;
  for (const auto& c : request.element.children()) query = &c;
  if (query != nullptr && query->attr("node")) {
    // No nodes are published here (XEP-0030 §3.1: item-not-found for an unknown node).
    host.send(server::make_error(request, server::StanzaError::item_not_found()));
  } else if (items) {
    auto reply = server::make_result(request);
    reply.element.add_child("query", std::string(kItems));
    host.send(std::move(reply));
  } else {
    host.send(info_reply(request, host, account));
  }
}

class Disco final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    // The roster module's table (migrations/0002_roster.sql), read only. Whether the
    // account's roster item for the requester says the requester sees its presence.
    host.storage().database().prepare(
        "disco.subscribed",
        "SELECT 1 FROM roster_items WHERE server_host = $1 AND username = $2 AND contact_jid = $3 "
        "AND subscription IN ('from', 'both')");
    auto sync = [&host](bool account, bool items) {
      return [&host, account, items](Event& ev) {
        answer(host, ev.stanza, account, items);
        return Verdict::handled;
      };
    };
    host.hook("iq-get/host/http://jabber.org/protocol/disco#info:query", sync(false, false));
    host.hook("iq-get/host/http://jabber.org/protocol/disco#items:query", sync(false, true));
    // An account asking about itself.
    host.hook("iq-get/self/http://jabber.org/protocol/disco#info:query", sync(true, false));
    host.hook("iq-get/self/http://jabber.org/protocol/disco#items:query", sync(true, true));
    // Someone else's account (like Prosody's mod_disco): only a requester the account lets
    // see its presence. Anyone else, and every name that is no account, gets the router's
    // service-unavailable, the same answer either way, so accounts cannot be enumerated.
    host.hook_async("iq-get/bare/http://jabber.org/protocol/disco#info:query",
                    [this](Event& ev) { return on_account(ev, false); });
    host.hook_async("iq-get/bare/http://jabber.org/protocol/disco#items:query",
                    [this](Event& ev) { return on_account(ev, true); });
  }

 private:
  asio::awaitable<Verdict> on_account(Event& ev, bool items) {
    const server::Stanza& st = ev.stanza;
    if (!st.from || !st.to || !st.to->has_local()) co_return Verdict::pass;
    auto ask = [host = std::string(st.to->domain()), user = std::string(st.to->local()),
                contact = st.from->bare().full()](pqxx::connection& c) {
      pqxx::read_transaction tx{c};
      return !tx.exec_prepared("disco.subscribed", host, user, contact).empty();
    };
    auto subscribed = co_await host_->storage().run(std::move(ask));
    if (!subscribed.ok()) {
      server::log::warning("disco: cannot read the roster of {}: {}", st.to->bare().str(),
                           subscribed.error().message);
      co_return Verdict::pass;
    }
    if (!*subscribed) co_return Verdict::pass;
    answer(*host_, st, true, items);
    co_return Verdict::handled;
  }

  server::HostContext* host_ = nullptr;
};

}  // namespace

server::ModuleInfo info() {
  return {"disco", "XEP-0030: service discovery of the server and of accounts",
          [] { return std::make_unique<Disco>(); }};
}

}  // namespace parley::modules::disco
