// RFC 6121 §3-§4: presence subscriptions and presence. Subscription stanzas move the state
// machine of Appendix A (modules/roster/roster_logic.hpp) on both sides, with roster pushes;
// a client's broadcast presence goes to its subscribers and its own resources; initial
// presence sends probes and presents pending subscription requests again; probes are
// answered; directed presence is remembered so that unavailable presence reaches it too;
// a session that ends (logout or a dropped link) goes unavailable.
#include "modules/presence/presence.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "modules/presence/subscribers.hpp"
#include "modules/roster/roster_hub.hpp"
#include "modules/roster/roster_store.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::presence {
namespace {

using roster::SubscriptionType;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::Verdict;
namespace store = roster::store;

Stanza make_presence(std::string_view type, const Jid& from, const Jid& to) {
  server::xml::Element e("presence", std::string(server::kClientNs));
  if (!type.empty()) e.set_attr("type", std::string(type));
  Stanza st{std::move(e), server::StanzaKind::presence, std::string(type), from, to};
  st.sync_addresses();
  return st;
}

// A copy of `st` addressed to `to`.
Stanza readdressed(const Stanza& st, const Jid& to) {
  Stanza copy = st;
  copy.to = to;
  copy.sync_addresses();
  return copy;
}

std::optional<std::string> status_of(const Stanza& st) {
  if (auto* s = st.element.find_child("status", st.element.ns())) return s->text();
  return std::nullopt;
}

/// What the module remembers of one client session (RFC 6121 §4). Guarded by State::mutex.
struct Resource {
  const server::ClientSession* session = nullptr;  ///< identity: a newer session may reuse the JID
  std::optional<Stanza> last;                       ///< last broadcast presence, 'from' the full JID
  std::set<std::string> directed;                   ///< who got directed presence (§4.6)
};

/// The module's memory, shared with the coroutines a closing session leaves behind.
struct State {
  std::mutex mutex;
  std::unordered_map<std::string, Resource> resources;  // by full JID
  SubscriberCache subscribers;  // its own lock; by bare JID, for the accounts online
};

class Presence final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    hub_ = &roster::Hub::of(host.domain());
    pre_approval_ = host.settings().boolean("pre_approval", true);
    roster::store::prepare(host.storage().database());
    // RFC 6121 §3.4: pre-approvals are offered.
    if (pre_approval_) host.add_stream_feature("<sub xmlns='urn:xmpp:features:pre-approval'/>");

    host.hook_async("presence/self", [this](server::Event& ev) { return on_broadcast(ev); });
    // What clients send to others: after the other filters (e.g. blocking), so that a
    // stanza they drop changes no subscription state.
    host.hook_async("pre-presence/bare", [this](server::Event& ev) { return on_outbound(ev); }, -10);
    host.hook_async("pre-presence/full", [this](server::Event& ev) { return on_outbound(ev); }, -10);
    host.hook_async("presence/bare", [this](server::Event& ev) { return on_inbound(ev); });
    host.hook_async("presence/full", [this](server::Event& ev) { return on_inbound_full(ev); });
    host.hook("session/closed", [this](server::Event& ev) {
      on_closed(ev);
      return Verdict::pass;
    });
    // Every roster change of this host, from this module or the roster module, keeps the
    // subscriber cache current (subscribers.hpp).
    listen_token_ = hub_->listen([state = state_](const Jid& account, const server::xml::Element& item,
                                                  std::int64_t version) {
      auto subscription = item.attr("subscription").value_or("none");
      state->subscribers.change(account.str(), std::string(item.attr("jid").value_or("")),
                                subscription == "from" || subscription == "both", version);
    });
  }

  void stop() override { hub_->unlisten(listen_token_); }

 private:
  // ---- what the module remembers ----------------------------------------------------

  // The entry of `session`, reset if it belonged to an older session with the same JID.
  // Call with the mutex held.
  Resource& entry(const server::ClientSession& session) {
    auto& r = state_->resources[session.jid().str()];
    if (r.session != &session) r = Resource{&session, std::nullopt, {}};
    return r;
  }

  // The last broadcast presence of each available resource of `account`.
  std::vector<Stanza> last_presences(const Jid& account) {
    auto sessions = host_->sessions().of_account(account);
    std::vector<Stanza> out;
    std::lock_guard lock(state_->mutex);
    for (const auto& s : sessions) {
      auto it = state_->resources.find(s->jid().str());
      if (it != state_->resources.end() && it->second.session == s.get() && it->second.last) {
        out.push_back(*it->second.last);
      }
    }
    return out;
  }

  // The subscriber cache keeps an account while one of its resources is available.
  void forget_if_offline(const Jid& account) {
    if (last_presences(account).empty()) state_->subscribers.forget(account.str());
  }

  static void to_available_resources(server::HostContext& host, const Jid& account, const Stanza& st,
                                     const server::ClientSession* except = nullptr) {
    for (const auto& s : host.sessions().of_account(account)) {
      if (s.get() != except && s->available()) s->send(st);
    }
  }

  // ---- a client's own presence (no 'to'): RFC 6121 §4.2, §4.4, §4.5 ---------------------

  asio::awaitable<Verdict> on_broadcast(server::Event& ev) {
    if (!ev.origin) co_return Verdict::dropped;
    if (ev.stanza.type.empty()) {
      co_await available(ev);
      co_return Verdict::handled;
    }
    if (ev.stanza.type == "unavailable") {
      co_await unavailable(ev);
      co_return Verdict::handled;
    }
    co_return Verdict::dropped;  // a subscription or probe to oneself means nothing
  }

  asio::awaitable<void> available(server::Event& ev) {
    const Jid full = ev.origin->jid();
    const Jid bare = full.bare();
    Stanza st = ev.stanza;
    st.from = full;
    st.to.reset();
    st.sync_addresses();
    bool initial = false;
    {
      std::lock_guard lock(state_->mutex);
      Resource& r = entry(*ev.origin);
      initial = !r.last;
      r.last = st;
    }

    auto account = store::Account::of(bare);
    auto load = [account](pqxx::connection& c) { return store::snapshot(c, account); };
    state_->subscribers.begin_load(bare.str());  // before the read: changes from now on count
    auto snapshot = co_await host_->storage().run(std::move(load));
    std::vector<roster::RosterItem> items;
    std::vector<store::Request> requests;
    if (snapshot) {
      std::unordered_set<std::string> from;
      for (const auto& item : snapshot->roster.items) {
        if (item.state().has_from()) from.insert(item.jid);
      }
      state_->subscribers.end_load(bare.str(), snapshot->roster.version, std::move(from));
      items = std::move(snapshot->roster.items);
      requests = std::move(snapshot->requests);
    } else {
      server::log::error("presence of {}: {}", full.str(), snapshot.error().message);
      state_->subscribers.abandon_load(bare.str());
    }

    // §4.2.2, §4.4.2: to every contact subscribed to us. First, so that the contacts do not
    // wait for the probes below, each of which a local contact answers after a lookup.
    for (const auto& item : items) {
      auto contact = Jid::parse(item.jid);
      if (contact && item.state().has_from()) {
        auto out = readdressed(st, contact->bare());
        co_await host_->route(std::move(out));
      }
    }
    // RFC 6121 §4.2.2: initial presence probes the contacts we are subscribed to, from the
    // account's bare JID (§4.3.1); their answers reach every available resource. Sent all
    // at once, not one after the other: a local contact answers after a lookup in its
    // roster, and waiting for each made the last answer wait for every lookup before it.
    for (const auto& item : items) {
      auto contact = Jid::parse(item.jid);
      if (initial && contact && item.state().has_to()) host_->send(make_presence("probe", bare, contact->bare()));
    }
    // §4.2.2, §4.4.2: to all of the account's available resources, this one included.
    to_available_resources(*host_, bare, readdressed(st, bare));
    if (!initial) co_return;

    // The newly available resource learns about the account's other resources...
    for (const auto& other : last_presences(bare)) {
      if (other.from != full) ev.origin->send(readdressed(other, full));
    }
    // ...and is shown again the subscription requests still waiting (§3.1.3).
    for (const auto& req : requests) {
      auto from = Jid::parse(req.contact);
      if (!from) continue;
      auto subscribe = make_presence("subscribe", *from, bare);
      if (req.status) subscribe.element.add_child("status", std::string(server::kClientNs)).add_text(*req.status);
      ev.origin->send(std::move(subscribe));
    }
  }

  asio::awaitable<void> unavailable(server::Event& ev) {
    const Jid full = ev.origin->jid();
    bool was_available = false;
    std::set<std::string> directed;
    {
      std::lock_guard lock(state_->mutex);
      Resource& r = entry(*ev.origin);
      was_available = r.last.has_value();
      directed = std::move(r.directed);
      r.directed.clear();
      r.last.reset();
    }
    forget_if_offline(full.bare());
    Stanza st = ev.stanza;
    st.from = full;
    st.to.reset();
    st.sync_addresses();
    co_await send_unavailable(host_, std::move(st), was_available, std::move(directed));
  }

  // RFC 6121 §4.5.2: unavailable presence to the contacts subscribed to us and to the
  // account's other available resources (if the resource was available), and to everyone
  // that got directed presence from it (§4.6.3) and was not told already. A coroutine
  // function with by-value parameters, so that a closing session can spawn it.
  static asio::awaitable<void> send_unavailable(server::HostContext* host, Stanza st, bool was_available,
                                                std::set<std::string> directed) {
    const Jid bare = st.from->bare();
    std::set<std::string> told;
    if (was_available) {
      auto account = store::Account::of(bare);
      auto load = [account](pqxx::connection& c) { return store::load(c, account); };
      auto roster = co_await host->storage().run(std::move(load));
      if (!roster) server::log::error("presence of {}: {}", st.from->str(), roster.error().message);
      std::vector<roster::RosterItem> items;
      if (roster) items = std::move(roster->items);
      for (const auto& item : items) {
        auto contact = Jid::parse(item.jid);
        if (!contact || !item.state().has_from()) continue;
        told.insert(contact->bare().str());
        auto out = readdressed(st, contact->bare());
        co_await host->route(std::move(out));
      }
      auto own = readdressed(st, bare);
      to_available_resources(*host, bare, own);
    }
    for (const auto& target : directed) {
      auto to = Jid::parse(target);
      if (!to || told.contains(to->bare().str())) continue;
      auto out = readdressed(st, *to);
      co_await host->route(std::move(out));
    }
  }

  // session/closed (logout or a dropped link): the resource goes unavailable (§4.5.2).
  void on_closed(server::Event& ev) {
    if (!ev.origin) return;
    bool was_available = false;
    std::set<std::string> directed;
    {
      std::lock_guard lock(state_->mutex);
      auto it = state_->resources.find(ev.origin->jid().str());
      if (it == state_->resources.end() || it->second.session != ev.origin.get()) return;
      was_available = it->second.last.has_value();
      directed = std::move(it->second.directed);
      state_->resources.erase(it);
    }
    forget_if_offline(ev.origin->jid().bare());
    if (!was_available && directed.empty()) return;
    auto st = make_presence("unavailable", ev.origin->jid(), ev.origin->jid());
    st.to.reset();
    st.sync_addresses();
    asio::co_spawn(host_->executor(), send_unavailable(host_, std::move(st), was_available, std::move(directed)),
                   asio::detached);
  }

  // ---- what clients send to others (pre-presence filters) --------------------------------

  asio::awaitable<Verdict> on_outbound(server::Event& ev) {
    Stanza& st = ev.stanza;
    if (!ev.origin || !st.to) co_return Verdict::pass;
    if (auto type = roster::parse_subscription_type(st.type)) {
      Verdict v = co_await outbound_subscription(ev, *type);
      co_return v;
    }
    if ((st.type.empty() || st.type == "unavailable") && st.to->bare() != ev.origin->jid().bare()) {
      // RFC 6121 §4.6: remember directed presence, so that unavailable presence follows it.
      std::lock_guard lock(state_->mutex);
      Resource& r = entry(*ev.origin);
      if (st.type.empty()) {
        r.directed.insert(st.to->str());
      } else {
        r.directed.erase(st.to->str());
      }
    }
    co_return Verdict::pass;
  }

  // RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2 and Appendix A.2: the account's side of a
  // subscription stanza. It is stamped with the bare JIDs, the state changes and is pushed,
  // and the stanza is routed here (or not at all), so that the presence that follows an
  // approval or a cancellation arrives after it.
  asio::awaitable<Verdict> outbound_subscription(server::Event& ev, SubscriptionType type) {
    Stanza& st = ev.stanza;
    const Jid user = ev.origin->jid().bare();
    const Jid contact = st.to->bare();
    if (contact == user) co_return Verdict::dropped;
    st.from = user;
    st.to = contact;
    st.sync_addresses();

    auto account = store::Account::of(user);
    std::string contact_jid = contact.str();
    bool pre_approval = pre_approval_;
    std::size_t max_items = hub_->max_items();
    auto change = [account, contact_jid, type, pre_approval, max_items](pqxx::connection& c) {
      return store::apply(c, account, contact_jid, store::Direction::outbound, type, pre_approval, max_items,
                          std::nullopt);
    };
    auto outcome = co_await host_->storage().run(std::move(change));
    if (!outcome) {
      server::log::error("subscription of {} to {}: {}", user.str(), contact.str(), outcome.error().message);
      ev.origin->send(server::make_error(st, StanzaError::internal_server_error()));
      co_return Verdict::dropped;
    }
    if (outcome->too_many) {
      ev.origin->send(server::make_error(st, StanzaError::not_allowed("the roster is full")));
      co_return Verdict::dropped;
    }
    if (outcome->roster_changed) hub_->push(user, roster::item_element(outcome->item), outcome->version);
    if (!outcome->transition.forward) co_return Verdict::dropped;

    const roster::SubState before = outcome->before;
    const roster::SubState after = outcome->transition.state;
    Stanza routed = st;
    co_await host_->route(std::move(routed));
    if (!before.has_from() && after.has_from()) {
      // §3.1.5: the new subscriber gets the presence of each available resource.
      co_await send_current_presence(user, contact);
    } else if (before.has_from() && !after.has_from()) {
      // §3.2.2: the former subscriber sees each available resource go unavailable.
      co_await send_unavailable_of_resources(user, contact);
    }
    co_return Verdict::handled;
  }

  asio::awaitable<void> send_current_presence(const Jid& account, const Jid& to) {
    auto lasts = last_presences(account);
    for (const auto& last : lasts) {
      auto out = readdressed(last, to);
      co_await host_->route(std::move(out));
    }
  }

  asio::awaitable<void> send_unavailable_of_resources(const Jid& account, const Jid& to) {
    auto lasts = last_presences(account);
    for (const auto& last : lasts) {
      auto out = make_presence("unavailable", *last.from, to);
      co_await host_->route(std::move(out));
    }
  }

  // ---- what arrives for an account -------------------------------------------------------

  asio::awaitable<Verdict> on_inbound_full(server::Event& ev) {
    Stanza& st = ev.stanza;
    // Subscription stanzas and probes are about the account, whatever the resource
    // (RFC 6121 §3.1.3, §4.3.2); the rest goes to that resource (router default).
    if (!roster::parse_subscription_type(st.type) && st.type != "probe") co_return Verdict::pass;
    st.to = st.to->bare();
    st.sync_addresses();
    Verdict v = co_await on_inbound(ev);
    co_return v;
  }

  asio::awaitable<Verdict> on_inbound(server::Event& ev) {
    Stanza& st = ev.stanza;
    if (!st.to) co_return Verdict::pass;
    const Jid account = st.to->bare();
    if (st.type.empty() || st.type == "unavailable") {
      // RFC 6121 §8.5.2.1.1: to all available resources; with none, silently ignored.
      to_available_resources(*host_, account, st);
      co_return Verdict::handled;
    }
    if (st.type == "error") {
      // An error about a presence the account sent (e.g. a subscription request to a domain
      // that cannot be reached): to every connected resource, which may not be available.
      for (const auto& s : host_->sessions().of_account(account)) s->send(st);
      co_return Verdict::handled;
    }
    if (!st.from) co_return Verdict::dropped;
    if (st.type == "probe") {
      co_await answer_probe(account, *st.from);
      co_return Verdict::handled;
    }
    if (auto type = roster::parse_subscription_type(st.type)) {
      co_await inbound_subscription(st, *type);
      co_return Verdict::handled;
    }
    co_return Verdict::dropped;  // RFC 6120 §8.2.2: no other presence types
  }

  // RFC 6121 §4.3.2: a probe from `prober` about `account`.
  asio::awaitable<void> answer_probe(const Jid& account, const Jid& prober) {
    bool subscribed = prober.bare() == account;
    std::optional<bool> cached;
    if (!subscribed) cached = state_->subscribers.subscribed(account.str(), prober.bare().str());
    if (cached) {
      subscribed = *cached;  // an online account: its roster is in memory
    } else if (!subscribed) {
      auto who = store::Account::of(account);
      std::string contact = prober.bare().str();
      auto lookup = [who, contact](pqxx::connection& c) {
        bool exists = false;
        auto item = store::find(c, who, contact, &exists);
        return std::pair{exists, item && item->state().has_from()};
      };
      auto found = co_await host_->storage().run(std::move(lookup));
      if (!found) {
        server::log::error("probe of {}: {}", account.str(), found.error().message);
        co_return;
      }
      if (!found->first) co_return;  // §8.5.1: no such account, silently ignored
      subscribed = found->second;
    }
    if (!subscribed) {
      // Not a subscriber: only the presence it was sent directly (§4.6), else "unsubscribed".
      std::vector<Stanza> direct;
      {
        auto sessions = host_->sessions().of_account(account);
        std::lock_guard lock(state_->mutex);
        for (const auto& s : sessions) {
          auto it = state_->resources.find(s->jid().str());
          if (it == state_->resources.end() || it->second.session != s.get() || !it->second.last) continue;
          const auto& d = it->second.directed;
          if (d.contains(prober.str()) || d.contains(prober.bare().str())) direct.push_back(*it->second.last);
        }
      }
      if (direct.empty()) {
        auto unsubscribed = make_presence("unsubscribed", account, prober.bare());
        co_await host_->route(std::move(unsubscribed));
      }
      for (const auto& last : direct) {
        auto out = readdressed(last, prober);
        co_await host_->route(std::move(out));
      }
      co_return;
    }
    auto lasts = last_presences(account);
    if (lasts.empty()) {
      // No available resource: say so (the first option of §4.3.2).
      auto none = make_presence("unavailable", account, prober);
      co_await host_->route(std::move(none));
    }
    for (const auto& last : lasts) {
      auto out = readdressed(last, prober);
      co_await host_->route(std::move(out));
    }
  }

  // RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3 and Appendix A.3: a subscription stanza
  // arrives for an account.
  asio::awaitable<void> inbound_subscription(Stanza& st, SubscriptionType type) {
    const Jid user = st.to->bare();
    const Jid contact = st.from->bare();
    if (contact == user) co_return;
    st.from = contact;
    st.to = user;
    st.sync_addresses();

    auto account = store::Account::of(user);
    std::string contact_jid = contact.str();
    auto status = status_of(st);
    bool pre_approval = pre_approval_;
    std::size_t max_items = hub_->max_items();
    auto change = [account, contact_jid, type, pre_approval, max_items, status](pqxx::connection& c) {
      return store::apply(c, account, contact_jid, store::Direction::inbound, type, pre_approval, max_items, status);
    };
    auto outcome = co_await host_->storage().run(std::move(change));
    if (!outcome) {
      server::log::error("subscription from {} to {}: {}", contact.str(), user.str(), outcome.error().message);
      co_return;
    }
    if (!outcome->account_exists) co_return;  // §8.5.1: silently ignored
    if (outcome->roster_changed) hub_->push(user, roster::item_element(outcome->item), outcome->version);
    // A subscribe nobody is available for stays stored and is shown at the next initial
    // presence (§3.1.3); the other types only matter to resources that are online now.
    if (outcome->transition.forward) to_available_resources(*host_, user, st);

    const roster::SubState before = outcome->before;
    const roster::SubState after = outcome->transition.state;
    if (outcome->transition.auto_subscribed) {
      auto subscribed = make_presence("subscribed", user, contact);
      co_await host_->route(std::move(subscribed));
      co_await send_current_presence(user, contact);
    } else if (type == SubscriptionType::unsubscribe && before.has_from() && !after.has_from()) {
      // §3.3.3: the former subscriber sees each available resource go unavailable.
      co_await send_unavailable_of_resources(user, contact);
    }
  }

  server::HostContext* host_ = nullptr;
  roster::Hub* hub_ = nullptr;
  std::uint64_t listen_token_ = 0;
  bool pre_approval_ = true;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

server::ModuleInfo info() {
  return {"presence", "RFC 6121 §3-§4: presence subscriptions, broadcast, probes and directed presence",
          [] { return std::make_unique<Presence>(); }};
}

}  // namespace parley::modules::presence
