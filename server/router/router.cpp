#include "server/router/router.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "server/log.hpp"

namespace asio = boost::asio;

namespace parley::server::router {
namespace {

Family stanza_family(const Stanza& s) {
  switch (s.kind) {
    case StanzaKind::message: return Family::message;
    case StanzaKind::presence: return Family::presence;
    case StanzaKind::iq: break;
  }
  if (s.type == "get") return Family::iq_get;
  if (s.type == "set") return Family::iq_set;
  if (s.type == "result") return Family::iq_result;
  return Family::iq_error;
}

Family pre_family(const Stanza& s) {
  switch (s.kind) {
    case StanzaKind::message: return Family::pre_message;
    case StanzaKind::presence: return Family::pre_presence;
    case StanzaKind::iq: return Family::pre_iq;
  }
  return Family::pre_iq;
}

// The request's payload: the one child element of an iq get/set (RFC 6120 §8.2.3).
const xml::Element* payload(const Stanza& s) {
  for (const auto& child : s.element.children()) return &child;
  return nullptr;
}

}  // namespace

// ---- Host ---------------------------------------------------------------------------

Host::~Host() { stop_modules(); }

void Host::start_module(std::unique_ptr<Module> module, const ModuleSettings& settings) {
  starting_ = module.get();
  starting_settings_ = &settings;
  modules_.push_back(std::move(module));
  modules_.back()->start(*this);
  starting_ = nullptr;
  starting_settings_ = nullptr;
  settings.check_all_read();
}

const ModuleSettings& Host::settings() const {
  static const ModuleSettings kNone;
  return starting_settings_ != nullptr ? *starting_settings_ : kNone;
}

void Host::stop_modules() {
  while (!modules_.empty()) {
    auto& m = modules_.back();
    m->stop();
    events_.remove_owner(m.get());
    std::erase_if(stream_handlers_, [&](const StreamHandler& h) { return h.owner == m.get(); });
    modules_.pop_back();
  }
}

void Host::add(std::string_view event, HandlerEntry entry) {
  std::string why;
  auto parsed = parse_event_name(event, &why);
  if (!parsed) throw std::invalid_argument(why);
  entry.owner = starting_;
  events_.add(*parsed, std::move(entry));
}

void Host::hook(std::string_view event, Handler handler, int priority) {
  add(event, HandlerEntry{priority, std::move(handler), nullptr, nullptr});
}

void Host::hook_async(std::string_view event, AsyncHandler handler, int priority) {
  add(event, HandlerEntry{priority, nullptr, std::move(handler), nullptr});
}

void Host::add_stream_feature(std::string xml, bool before_authentication) {
  (before_authentication ? preauth_features_ : stream_features_).push_back(std::move(xml));
}

void Host::handle_stream_element(std::string ns, StreamElementHandler handler) {
  stream_handlers_.push_back(StreamHandler{std::move(ns), std::move(handler), starting_});
}

const StreamElementHandler* Host::find_stream_handler(std::string_view ns) const {
  for (const auto& h : stream_handlers_) {
    if (h.ns == ns) return &h.handler;
  }
  return nullptr;
}

asio::awaitable<Verdict> Host::fire(std::string_view event, Stanza& stanza) {
  std::string why;
  auto parsed = parse_event_name(event, &why);
  if (!parsed || parsed->dest != Dest::none) throw std::invalid_argument("fire: " + (why.empty() ? std::string(event) : why));
  Event ev{stanza, nullptr, *this, nullptr, nullptr};
  const HandlerList* list = events_.find(parsed->family, Dest::none);
  if (list == nullptr) co_return Verdict::pass;
  for (const auto& h : *list) {
    Verdict v = Verdict::pass;
    if (h.sync) {
      v = h.sync(ev);
    } else {
      v = co_await h.async(ev);
    }
    if (v != Verdict::pass) co_return v;
  }
  co_return Verdict::pass;
}

std::shared_ptr<void> Host::busy() { return router_.hold(); }

void Host::add_disco_feature(std::string var, bool on_accounts) {
  for (const auto& f : features_) {
    if (f.first == var && f.second == on_accounts) return;
  }
  features_.emplace_back(std::move(var), on_accounts);
}

std::vector<std::string> Host::disco_features(bool on_accounts) const {
  std::vector<std::string> out;
  for (const auto& [var, accounts] : features_) {
    if (accounts == on_accounts) out.push_back(var);
  }
  return out;
}

void Host::send(Stanza stanza) { router_.post(std::move(stanza)); }
asio::awaitable<void> Host::route(Stanza stanza) { return router_.route(std::move(stanza)); }
Sessions& Host::sessions() { return router_.sessions(); }
storage::Runner& Host::storage() { return router_.storage(); }
AccountStore& Host::accounts() { return router_.accounts(); }
asio::any_io_executor Host::executor() { return router_.executor(); }

// ---- Router -------------------------------------------------------------------------

// RFC 6121 §4.2, §4.5: a client's presence without 'to' makes it available (with the
// priority it gives, RFC 6121 §4.7.2.3) or unavailable. Routing to a bare JID depends on
// this, so the core keeps it; broadcasting it is the presence module's work.
void Router::note_presence(const Stanza& presence, ClientSession& origin) {
  if (presence.type.empty()) {
    int priority = 0;
    if (auto* p = presence.element.find_child("priority", presence.element.ns())) {
      try {
        priority = std::clamp(std::stoi(p->text()), -128, 127);
      } catch (const std::exception&) {
        priority = 0;
      }
    }
    origin.set_presence(true, priority);
  } else if (presence.type == "unavailable") {
    origin.set_presence(false, 0);
  }
}

Host& Router::add_host(const std::string& domain) {
  auto& slot = hosts_[domain];
  if (!slot) slot = std::make_unique<Host>(*this, domain);
  return *slot;
}

Host* Router::find_host(std::string_view domain) {
  auto it = hosts_.find(domain);
  return it == hosts_.end() ? nullptr : it->second.get();
}

void Router::stop_modules() {
  for (auto& [domain, host] : hosts_) host->stop_modules();
}

void Router::hook_remote(AsyncHandler handler, int priority) {
  HandlerEntry entry{priority, nullptr, std::move(handler), nullptr};
  auto pos = std::find_if(remote_.begin(), remote_.end(),
                          [&](const HandlerEntry& e) { return e.priority < priority; });
  remote_.insert(pos, std::move(entry));
}

asio::awaitable<Verdict> Router::run(const HandlerList* list, Event& event) {
  if (list == nullptr) co_return Verdict::pass;
  for (const auto& h : *list) {
    // No co_await inside ?: or a condition: GCC 12 miscompiles both.
    Verdict v = Verdict::pass;
    if (h.sync) {
      v = h.sync(event);
    } else {
      v = co_await h.async(event);
    }
    if (v != Verdict::pass) co_return v;
  }
  co_return Verdict::pass;
}

namespace {

// Counts itself in Router::pending() while alive, and keeps what the caller waits on.
struct Hold {
  Hold(std::atomic<std::size_t>& counter, std::shared_ptr<void> inner) : counter_(counter), inner_(std::move(inner)) {
    counter_.fetch_add(1);
  }
  ~Hold() {
    inner_.reset();  // the caller's completion first, then the count
    counter_.fetch_sub(1);
  }
  std::atomic<std::size_t>& counter_;
  std::shared_ptr<void> inner_;
};

}  // namespace

std::shared_ptr<void> Router::hold(std::shared_ptr<void> inner) {
  return std::make_shared<Hold>(pending_, std::move(inner));
}

asio::awaitable<void> Router::route_from_client(Stanza stanza, std::shared_ptr<ClientSession> origin,
                                                std::shared_ptr<void> done) {
  // RFC 6120 §8.1.2.1: the server stamps 'from' with the client's full JID; whatever the
  // client put there is never trusted.
  stanza.from = origin->jid();
  stanza.sync_addresses();
  if (stanza.kind == StanzaKind::presence && !stanza.to) note_presence(stanza, *origin);
  // Every client stanza is held until durable: the sender's acknowledgement waits for it,
  // and a graceful shutdown waits for the writes behind it.
  co_await route(std::move(stanza), std::move(origin), hold(std::move(done)));
}

asio::awaitable<void> Router::route(Stanza stanza, std::shared_ptr<ClientSession> origin,
                                    std::shared_ptr<void> durable) {
  try {
    co_await dispatch(stanza, std::move(origin), durable);
  } catch (const std::exception& e) {
    log::error("a handler failed on a {} stanza: {}", stanza.element.name(), e.what());
    bounce(stanza, StanzaError::internal_server_error());
  }
}

asio::awaitable<bool> Router::route_preauth(Stanza& st, UnauthenticatedClient& client,
                                            std::string_view domain) {
  Host* host = find_host(domain);
  const xml::Element* p = payload(st);
  if (host == nullptr || p == nullptr || !st.is_request()) co_return false;
  const HandlerList* list = host->events().find_iq(stanza_family(st), Dest::preauth, p->ns(), p->name());
  if (list == nullptr) co_return false;
  Event ev{st, nullptr, *host, &client, nullptr};
  try {
    Verdict v = co_await run(list, ev);
    if (v == Verdict::pass) client.reply(make_error(st, StanzaError::service_unavailable()));
  } catch (const std::exception& e) {
    log::error("a preauth handler failed: {}", e.what());
    client.reply(make_error(st, StanzaError::internal_server_error()));
  }
  co_return true;
}

void Router::post(Stanza stanza) {
  asio::co_spawn(executor_, route(std::move(stanza)), asio::detached);
}

asio::awaitable<void> Router::dispatch(Stanza& st, std::shared_ptr<ClientSession> origin,
                                      const std::shared_ptr<void>& durable) {
  if (st.kind == StanzaKind::iq && stanza_family(st) == Family::iq_error && st.type != "error") {
    bounce(st, StanzaError::bad_request("an iq has the type get, set, result or error"));
    co_return;
  }
  Host* sender_host = origin ? find_host(origin->jid().domain()) : nullptr;
  Host* host = nullptr;
  Dest dest = Dest::host;
  if (!st.to) {
    // RFC 6120 §10.3: no 'to' means the sender's own account.
    if (!origin) co_return;
    host = sender_host;
    if (st.kind == StanzaKind::message) {
      st.to = origin->jid().bare();
      dest = Dest::bare;
    } else {
      dest = Dest::self;
    }
  } else {
    host = find_host(st.to->domain());
    if (!st.to->has_local()) {
      dest = Dest::host;
    } else if (!st.to->is_bare()) {
      dest = Dest::full;
    } else if (origin && st.kind == StanzaKind::iq && st.to->bare() == origin->jid().bare()) {
      dest = Dest::self;
    } else {
      dest = Dest::bare;
    }
  }

  if (origin && sender_host) {
    Event pre{st, origin, *sender_host, nullptr, durable};
    Verdict v = co_await run(sender_host->events().find(pre_family(st), dest), pre);
    if (v != Verdict::pass) co_return;
  }

  if (host == nullptr) {
    Host* from_host = sender_host ? sender_host : (st.from ? find_host(st.from->domain()) : nullptr);
    if (from_host != nullptr) {
      // The sending host's own route/remote handlers first (a module may take a domain,
      // like a gateway), then federation's.
      Event ev{st, origin, *from_host, nullptr, durable};
      Verdict v = co_await run(from_host->events().find(Family::route_remote, Dest::none), ev);
      if (v != Verdict::pass) co_return;
      v = co_await run(remote_.empty() ? nullptr : &remote_, ev);
      if (v != Verdict::pass) co_return;
    }
    bounce(st, StanzaError::remote_server_not_found());
    co_return;
  }

  Family family = stanza_family(st);
  const HandlerList* handlers = nullptr;
  if (family == Family::iq_get || family == Family::iq_set) {
    const xml::Element* p = payload(st);
    if (p == nullptr) {
      bounce(st, StanzaError::bad_request("an iq get or set carries one child element"));
      co_return;
    }
    handlers = host->events().find_iq(family, dest, p->ns(), p->name());
  } else {
    handlers = host->events().find(family, dest);
  }
  Event ev{st, origin, *host, nullptr, durable};
  Verdict v = co_await run(handlers, ev);
  if (v == Verdict::pass) apply_default(st, dest);
}

void Router::apply_default(Stanza& st, Dest dest) {
  if (dest == Dest::full) {
    if (auto session = sessions_.find(*st.to)) {
      session->send(std::move(st));
      return;
    }
  }
  if (st.is_request() || (st.kind == StanzaKind::message && !st.is_error())) {
    bounce(st, StanzaError::service_unavailable());
  }
  // Presence, results and errors nobody took are dropped (RFC 6120 §10.4, RFC 6121 §4.3).
}

void Router::bounce(const Stanza& original, const StanzaError& error) {
  if (original.is_error() || (original.kind == StanzaKind::iq && original.type == "result")) return;
  if (!original.from) return;
  post(make_error(original, error));
}

bool Router::filter_outgoing(Stanza& stanza, const std::shared_ptr<ClientSession>& target) {
  Host* host = find_host(target->jid().domain());
  if (host == nullptr) return true;
  const HandlerList* list = host->events().find(Family::stanza_out, Dest::none);
  if (list == nullptr) return true;
  Event ev{stanza, target, *host, nullptr, nullptr};
  for (const auto& h : *list) {
    if (!h.sync) continue;  // stanza/out runs on the write path: synchronous handlers only
    Verdict v = h.sync(ev);
    if (v == Verdict::dropped) return false;
    if (v == Verdict::handled) break;
  }
  return true;
}

void Router::session_event(Family family, const std::shared_ptr<ClientSession>& session) {
  Host* host = find_host(session->jid().domain());
  if (host == nullptr) return;
  const HandlerList* list = host->events().find(family, Dest::none);
  if (list == nullptr) return;
  // These events carry no stanza; handlers see an empty presence addressed to the session.
  Stanza none{xml::Element("presence", std::string(kClientNs)), StanzaKind::presence, {}, session->jid(), session->jid()};
  Event ev{none, session, *host, nullptr, nullptr};
  // Synchronous handlers only: the session may be gone before a coroutine would run.
  for (const auto& h : *list) {
    if (h.sync && h.sync(ev) != Verdict::pass) break;
  }
}

void Router::user_event(Family family, const Jid& account) {
  Host* host = find_host(account.domain());
  if (host == nullptr) return;
  const HandlerList* list = host->events().find(family, Dest::none);
  if (list == nullptr) return;
  // No stanza either: handlers see an empty presence from and to the account's bare JID,
  // with no origin session.
  Stanza none{xml::Element("presence", std::string(kClientNs)), StanzaKind::presence, {}, account.bare(),
              account.bare()};
  Event ev{none, nullptr, *host};
  // Synchronous handlers only: they run where the account changed (a storage thread, or the
  // thread that heard of another process's change), and must not wait.
  try {
    for (const auto& h : *list) {
      if (h.sync && h.sync(ev) != Verdict::pass) break;
    }
  } catch (const std::exception& e) {
    log::error("a {} handler failed: {}", family == Family::user_created ? "user/created" : "user/deleted", e.what());
  }
}

}  // namespace parley::server::router
