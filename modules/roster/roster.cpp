// RFC 6121 §2: the roster. Get (with versioning, §2.6), set (add, update, remove) and pushes
// to the interested resources. Subscription states change through presence stanzas, in
// the presence module; both use the same store (roster_store.hpp) and hub (roster_hub.hpp).
#include "modules/roster/roster.hpp"

#include "modules/roster/roster_hub.hpp"
#include "modules/roster/roster_store.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::roster {
namespace {

using server::StanzaError;
using server::Verdict;

const server::xml::Element* payload(const server::Stanza& st) {
  for (const auto& child : st.element.children()) return &child;
  return nullptr;
}

server::Stanza presence(std::string_view type, const server::Jid& from, const server::Jid& to) {
  server::xml::Element e("presence", std::string(server::kClientNs));
  if (!type.empty()) e.set_attr("type", std::string(type));
  server::Stanza st{std::move(e), server::StanzaKind::presence, std::string(type), from, to};
  st.sync_addresses();
  return st;
}

class Roster final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    hub_ = &Hub::of(host.domain());
    const auto& s = host.settings();
    auto max_items = static_cast<std::size_t>(s.integer("max_items", 1000, 1, 100000));
    limits_.max_name_bytes = static_cast<std::size_t>(s.integer("max_name_length", 1023, 1, 65535));
    limits_.max_group_bytes = static_cast<std::size_t>(s.integer("max_group_length", 1023, 1, 65535));
    limits_.max_groups = static_cast<std::size_t>(s.integer("max_groups", 64, 1, 1000));
    versioning_ = s.boolean("versioning", true);
    hub_->set_max_items(max_items);
    store::prepare(host.storage().database());

    // RFC 6121 §2.6.1: the stream feature that announces roster versioning.
    if (versioning_) host.add_stream_feature("<ver xmlns='urn:xmpp:features:rosterver'/>");
    host.hook_async("iq-get/self/jabber:iq:roster:query", [this](server::Event& ev) { return get(ev); });
    host.hook_async("iq-set/self/jabber:iq:roster:query", [this](server::Event& ev) { return set(ev); });
    // Someone else's roster is nobody's business (RFC 6121 §2.1.3, §2.1.5: a roster get or
    // set is only from the account itself).
    auto forbidden = [this](server::Event& ev) {
      host_->send(server::make_error(ev.stanza, StanzaError::forbidden("a roster belongs to its account only")));
      return Verdict::handled;
    };
    host.hook("iq-get/bare/jabber:iq:roster:query", forbidden);
    host.hook("iq-set/bare/jabber:iq:roster:query", forbidden);
    host.hook("session/closed", [this](server::Event& ev) {
      if (ev.origin) hub_->remove(*ev.origin);
      return Verdict::pass;  // others (presence) clean up after this session too
    });
  }

 private:
  // The answer goes straight to the requesting session, so that it is queued in order with
  // the pushes that follow it.
  static void reply(server::Event& ev, server::Stanza st) {
    if (ev.origin) {
      ev.origin->send(std::move(st));
    }
  }

  // RFC 6121 §2.1.3 roster get; §2.6.3 with a 'ver': nothing new, an empty result.
  asio::awaitable<Verdict> get(server::Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const server::xml::Element* query = payload(ev.stanza);
    std::optional<std::string> ver;
    if (auto v = query->attr("ver"); v && versioning_) ver = std::string(*v);
    hub_->add_interested(ev.origin, ver.has_value());

    auto account = store::Account::of(ev.origin->jid());
    auto load = [account](pqxx::connection& c) { return store::load(c, account); };
    auto roster = co_await host_->storage().run(std::move(load));
    if (!roster) {
      server::log::error("roster of {}: {}", ev.origin->jid().bare().str(), roster.error().message);
      reply(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    auto result = server::make_result(ev.stanza);
    std::string current = std::to_string(roster->version);
    if (!ver || *ver != current) {
      auto& q = result.element.add_child("query", std::string(kRosterNs));
      if (ver) q.set_attr("ver", current);
      for (const auto& item : roster->items) q.add_child(item_element(item));
    }
    reply(ev, std::move(result));
    co_return Verdict::handled;
  }

  // RFC 6121 §2.1.5 roster set: add or update (§2.3, §2.4) or remove (§2.5).
  asio::awaitable<Verdict> set(server::Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const server::Jid self = ev.origin->jid().bare();
    auto checked = check_roster_set(*payload(ev.stanza), self, limits_);
    if (auto* error = std::get_if<StanzaError>(&checked)) {
      reply(ev, server::make_error(ev.stanza, *error));
      co_return Verdict::handled;
    }
    RosterSet request = std::get<RosterSet>(std::move(checked));

    auto account = store::Account::of(self);
    std::size_t max_items = hub_->max_items();
    auto change = [account, request, max_items](pqxx::connection& c) {
      return store::set_item(c, account, request, max_items);
    };
    auto outcome = co_await host_->storage().run(std::move(change));
    if (!outcome) {
      server::log::error("roster set of {}: {}", self.str(), outcome.error().message);
      reply(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    switch (outcome->kind) {
      case store::SetOutcome::Kind::not_found:
        // RFC 6121 §2.5.3: removing an item that is not there.
        reply(ev, server::make_error(ev.stanza, StanzaError::item_not_found()));
        co_return Verdict::handled;
      case store::SetOutcome::Kind::too_many:
        reply(ev, server::make_error(ev.stanza, StanzaError::not_allowed(
                                                    "the roster has reached its limit of " +
                                                    std::to_string(max_items) + " items")));
        co_return Verdict::handled;
      case store::SetOutcome::Kind::ok: break;
    }
    reply(ev, server::make_result(ev.stanza));
    if (!request.remove) {
      hub_->push(self, item_element(outcome->item), outcome->version);
      co_return Verdict::handled;
    }

    // RFC 6121 §2.5.2: a removal also ends the subscriptions in both directions.
    hub_->push(self, removed_item_element(request.jid), outcome->version);
    auto contact = server::Jid::parse(request.jid);
    if (!contact) co_return Verdict::handled;
    const RosterItem& old = outcome->item;
    SubState was = old.state(outcome->pending_in);
    // (Each stanza is named before the co_await: GCC 12 mishandles owning temporaries there.)
    if (was.has_to() || was.pending_out) {
      auto unsubscribe = presence("unsubscribe", self, contact->bare());
      co_await host_->route(std::move(unsubscribe));
    }
    if (was.has_from() || was.pending_in) {
      auto unsubscribed = presence("unsubscribed", self, contact->bare());
      co_await host_->route(std::move(unsubscribed));
    }
    if (was.has_from()) {
      // RFC 6121 §3.2.2: the contact stops seeing this account's resources.
      auto sessions = host_->sessions().of_account(self);
      for (const auto& s : sessions) {
        if (!s->available()) continue;
        auto unavailable = presence("unavailable", s->jid(), contact->bare());
        co_await host_->route(std::move(unavailable));
      }
    }
    co_return Verdict::handled;
  }

  server::HostContext* host_ = nullptr;
  Hub* hub_ = nullptr;
  RosterLimits limits_;
  bool versioning_ = true;
};

}  // namespace

server::ModuleInfo info() {
  return {"roster", "RFC 6121 §2: rosters, roster pushes and roster versioning",
          [] { return std::make_unique<Roster>(); }};
}

}  // namespace parley::modules::roster
