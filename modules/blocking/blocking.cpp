// XEP-0191 Blocking Command: the blocklist (get, block, unblock, unblock all, pushes to the
// resources that asked for it), and the blocking itself: nothing from a blocked JID reaches
// the user, nothing the user sends reaches a blocked JID (XEP-0191 §3.3).
//
// Each account's list is cached in memory so the checks on the stanza path cost a hash
// lookup. A list is loaded through the storage pool on first use (so the handlers that may
// miss are coroutines), reloaded after every change before the change is answered, and
// dropped when the account's last session ends. The stanza/out check is synchronous (the
// write path cannot wait): it uses what the cache holds, which session/bound preloads.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "modules/blocking/blocking.hpp"
#include "modules/blocking/blocking_store.hpp"
#include "modules/blocking/blocklist.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::blocking {
namespace {

using server::Event;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::StanzaKind;
using server::Verdict;

constexpr std::string_view kNs = "urn:xmpp:blocking";
constexpr std::string_view kErrorsNs = "urn:xmpp:blocking:errors";
// Before mam (50), offline storage and message delivery (0): blocked messages are never
// archived, stored or delivered, and the filters see what the user sends before routing.
constexpr int kPriority = 100;
// Lists kept for accounts without a session (recipients of inbound traffic) before those
// are dropped; accounts with sessions are always kept.
constexpr std::size_t kMaxCachedAccounts = 10000;

using ListPtr = std::shared_ptr<const BlockList>;

// XEP-0191 §3.3: what the user sends to a blocked JID comes back as not-acceptable with
// <blocked xmlns='urn:xmpp:blocking:errors'/>.
Stanza blocked_error(const Stanza& st) {
  auto error = server::make_error(st, StanzaError{"not-acceptable", "cancel", {}});
  if (auto* e = error.element.find_child("error", error.element.ns())) e->add_child("blocked", std::string(kErrorsNs));
  return error;
}

bool is_blocked_error(const Stanza& st) {
  if (!st.is_error()) return false;
  const auto* e = st.element.find_child("error", st.element.ns());
  return e != nullptr && e->find_child("blocked", kErrorsNs) != nullptr;
}

const server::xml::Element* payload(const Stanza& st) {
  for (const auto& child : st.element.children()) return &child;
  return nullptr;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Blocking final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    max_items_ = static_cast<std::size_t>(host.settings().integer("max_items", 1000, 1, 1000000));
    store::prepare(host.storage().database());
    // XEP-0191 §3.1 asks the server; clients also look at their own account.
    host.add_disco_feature(std::string(kNs));
    host.add_disco_feature(std::string(kNs), true);

    host.hook_async("iq-get/self/urn:xmpp:blocking:blocklist", [this](Event& ev) { return get_list(ev); });
    host.hook_async("iq-set/self/urn:xmpp:blocking:block", [this](Event& ev) { return change(ev, true); });
    host.hook_async("iq-set/self/urn:xmpp:blocking:unblock", [this](Event& ev) { return change(ev, false); });

    // Inbound, at the recipient's host. iq get/set have no payload-independent event; they
    // are caught on the write path (stanza/out) below.
    for (const char* event : {"message/bare", "message/full", "presence/bare", "presence/full",
                              "iq-result/bare", "iq-result/full", "iq-error/bare", "iq-error/full"}) {
      host.hook_async(event, [this](Event& ev) { return inbound(ev); }, kPriority);
    }
    // Outbound, what local clients send, before routing.
    for (const char* event : {"pre-message/bare", "pre-message/full", "pre-message/host", "pre-presence/bare",
                              "pre-presence/full", "pre-presence/host", "pre-iq/bare", "pre-iq/full", "pre-iq/host"}) {
      host.hook_async(event, [this](Event& ev) { return outbound(ev); }, kPriority);
    }
    host.hook("stanza/out", [this](Event& ev) { return on_write(ev); }, kPriority);
    host.hook("session/bound", [this](Event& ev) {
      asio::co_spawn(host_->executor(), preload(ev.origin->jid().bare()), asio::detached);
      return Verdict::pass;
    });
    host.hook("session/closed", [this](Event& ev) {
      forget(ev.origin);
      return Verdict::pass;
    });
    // A deleted account's list goes with it: a new account of the same name starts empty.
    for (const char* event : {"user/created", "user/deleted"}) {
      host.hook(event, [this](Event& ev) {
        forget_account(ev.stanza.to->bare());
        return Verdict::pass;
      });
    }
  }

 private:
  // One account's cached list. `stamp` changes (to a value no entry ever had) whenever the
  // list changes, so a load that started before a change never installs what it read.
  struct Entry {
    ListPtr list;       // null until loaded; kept while stale for the synchronous check
    std::uint64_t stamp = 0;
    bool fresh = false;  // loaded after the last change
  };

  // ---- the blocklist protocol (XEP-0191 §3.2 - §3.5) ----

  asio::awaitable<Verdict> get_list(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    want_pushes(ev.origin);  // §3.3: pushes go to the resources that requested the list
    ListPtr list = co_await fresh_list(account);
    if (!list) {
      ev.origin->send(server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    auto reply = server::make_result(ev.stanza);
    auto& blocklist = reply.element.add_child("blocklist", std::string(kNs));
    for (const auto& item : list->items()) blocklist.add_child("item", std::string(kNs)).set_attr("jid", item);
    ev.origin->send(std::move(reply));
    co_return Verdict::handled;
  }

  asio::awaitable<Verdict> change(Event& ev, bool block) {
    if (!ev.origin) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    std::vector<std::string> items;
    for (const auto& child : payload(ev.stanza)->children()) {
      if (child.name() != "item" || child.ns() != kNs) continue;
      auto jid = Jid::parse(child.attr("jid").value_or(""));
      if (!jid) {
        ev.origin->send(server::make_error(ev.stanza, StanzaError::jid_malformed("an item's jid is not a valid JID")));
        co_return Verdict::handled;
      }
      if (std::find(items.begin(), items.end(), jid->full()) == items.end()) items.push_back(jid->full());
    }
    if (block && items.empty()) {
      // §3.3: a <block/> without <item/> is a bad request. (An empty <unblock/> unblocks all, §3.5.)
      ev.origin->send(server::make_error(ev.stanza, StanzaError::bad_request("block at least one item")));
      co_return Verdict::handled;
    }

    // What was blocked before the change: unblock-all (§3.5) names no items.
    ListPtr before = co_await fresh_list(account);
    bool ok = false;
    if (block) {
      auto write = [account, items, max = max_items_](pqxx::connection& c) { return store::add(c, account, items, max); };
      auto r = co_await host_->storage().run(std::move(write));
      if (r.ok() && *r == store::AddOutcome::too_many) {
        ev.origin->send(server::make_error(
            ev.stanza, StanzaError::policy_violation("a blocklist holds at most " + std::to_string(max_items_) + " items")));
        co_return Verdict::handled;
      }
      ok = r.ok();
      if (!ok) server::log::warning("blocking: cannot block for {}: {}", account.str(), r.error().message);
    } else {
      auto write = [account, items](pqxx::connection& c) { store::remove(c, account, items); };
      auto r = co_await host_->storage().run(std::move(write));
      ok = r.ok();
      if (!ok) server::log::warning("blocking: cannot unblock for {}: {}", account.str(), r.error().message);
    }
    if (!ok) {
      ev.origin->send(server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    // The change holds from the answer on: reload before answering.
    invalidate(account);
    ListPtr reloaded = co_await fresh_list(account);
    (void)reloaded;
    ev.origin->send(server::make_result(ev.stanza));
    push(account, block, items);
    BlockList changed(block || !items.empty() ? items : (before ? before->items() : std::vector<std::string>{}));
    co_await presence_effects(account, block, std::move(changed));
    co_return Verdict::handled;
  }

  // §3.3: a contact allowed to see the user's presence (subscription from or both) gets
  // unavailable presence from each available resource when blocked. §3.4: on unblock it
  // gets the current presence again — asked of the presence module with a probe in the
  // contact's name, which answers it from the last presence of each resource.
  asio::awaitable<void> presence_effects(Jid account, bool block, BlockList changed) {
    if (changed.empty()) co_return;
    auto query = [account](pqxx::connection& c) {
      pqxx::read_transaction tx{c};
      std::vector<std::string> contacts;
      // The roster module's table; no rows (or no roster module) means nobody to tell.
      if (!tx.exec("SELECT to_regclass('roster_items') IS NOT NULL")[0][0].as<bool>()) return contacts;
      for (const auto& row : tx.exec_params(
               "SELECT contact_jid FROM roster_items WHERE server_host = $1 AND username = $2"
               " AND subscription IN ('from', 'both')",
               std::string(account.domain()), std::string(account.local()))) {
        contacts.push_back(row[0].as<std::string>());
      }
      return contacts;
    };
    auto r = co_await host_->storage().run(std::move(query));
    if (!r.ok()) {
      server::log::warning("blocking: cannot read the roster of {}: {}", account.str(), r.error().message);
      co_return;
    }
    for (const auto& contact_text : *r) {
      auto contact = Jid::parse(contact_text);
      if (!contact || !changed.blocks(*contact)) continue;
      if (block) {
        for (const auto& session : host_->sessions().of_account(account)) {
          if (!session->available()) continue;
          server::xml::Element p("presence", std::string(server::kClientNs));
          p.set_attr("type", "unavailable");
          Stanza st{std::move(p), StanzaKind::presence, "unavailable", session->jid(), *contact};
          st.sync_addresses();
          host_->send(std::move(st));
        }
      } else {
        server::xml::Element p("presence", std::string(server::kClientNs));
        p.set_attr("type", "probe");
        Stanza st{std::move(p), StanzaKind::presence, "probe", contact->bare(), account};
        st.sync_addresses();
        host_->send(std::move(st));
      }
    }
  }

  // §3.3 - §3.5: an iq set with the change to every resource that requested the blocklist.
  void push(const Jid& account, bool block, const std::vector<std::string>& items) {
    std::vector<std::shared_ptr<server::ClientSession>> targets;
    {
      std::lock_guard lock(mutex_);
      if (auto it = interested_.find(account.str()); it != interested_.end()) {
        for (const auto& weak : it->second) {
          if (auto s = weak.lock()) targets.push_back(std::move(s));
        }
      }
    }
    for (auto& session : targets) {
      server::xml::Element iq("iq", std::string(server::kClientNs));
      iq.set_attr("type", "set");
      iq.set_attr("id", "block-push-" + std::to_string(++pushes_));
      auto& what = iq.add_child(block ? "block" : "unblock", std::string(kNs));
      for (const auto& item : items) what.add_child("item", std::string(kNs)).set_attr("jid", item);
      Stanza st{std::move(iq), StanzaKind::iq, "set", std::nullopt, session->jid()};
      st.sync_addresses();
      session->send(std::move(st));
    }
  }

  void want_pushes(const std::shared_ptr<server::ClientSession>& session) {
    std::lock_guard lock(mutex_);
    auto& list = interested_[session->jid().bare().str()];
    std::erase_if(list, [](const auto& weak) { return weak.expired(); });
    for (const auto& weak : list) {
      if (weak.lock() == session) return;
    }
    list.push_back(session);
  }

  void forget(const std::shared_ptr<server::ClientSession>& session) {
    Jid account = session->jid().bare();
    bool last = host_->sessions().of_account(account).empty();
    std::lock_guard lock(mutex_);
    if (auto it = interested_.find(account.str()); it != interested_.end()) {
      std::erase_if(it->second, [&](const auto& weak) {
        auto s = weak.lock();
        return !s || s == session;
      });
      if (it->second.empty()) interested_.erase(it);
    }
    if (last) cache_.erase(std::string(account.local()));
  }

  // user/created, user/deleted: whatever was cached under this name belongs to no account
  // that exists now. A load running meanwhile installs nothing (the entry it would fill is gone).
  void forget_account(const Jid& account) {
    std::lock_guard lock(mutex_);
    cache_.erase(std::string(account.local()));
    interested_.erase(account.str());
  }

  // ---- the checks (XEP-0191 §3.3) ----

  // A stanza for a local account from a JID it blocks. Presence: no answer. Message:
  // service-unavailable (the user looks offline). iq result and error: dropped silently.
  asio::awaitable<Verdict> inbound(Event& ev) {
    const Stanza& st = ev.stanza;
    if (!st.from || !st.to || !st.to->has_local()) co_return Verdict::pass;
    Jid account = st.to->bare();
    if (exempt(account, *st.from)) co_return Verdict::pass;
    ListPtr list = co_await fresh_list(account);
    if (!list || !list->blocks(*st.from)) co_return Verdict::pass;
    if (st.kind == StanzaKind::message && !st.is_error()) {
      host_->send(server::make_error(st, StanzaError::service_unavailable()));
      co_return Verdict::handled;
    }
    co_return Verdict::dropped;
  }

  // A stanza a local client sends to a JID it blocks: not routed; not-acceptable + <blocked/>
  // back to the client (except for errors and results, which are never answered).
  asio::awaitable<Verdict> outbound(Event& ev) {
    const Stanza& st = ev.stanza;
    if (!ev.origin || !st.to) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    if (exempt(account, *st.to)) co_return Verdict::pass;
    ListPtr list = co_await fresh_list(account);
    if (!list || !list->blocks(*st.to)) co_return Verdict::pass;
    if (!st.is_error() && !(st.kind == StanzaKind::iq && st.type == "result")) {
      // Straight to the client: routed, this error from the blocked JID would be filtered.
      ev.origin->send(blocked_error(st));
      co_return Verdict::handled;
    }
    co_return Verdict::dropped;
  }

  // The last check before a client session writes a stanza: what no inbound hook saw (an iq
  // get or set to a full JID gets service-unavailable), and what the server sends on a local
  // user's behalf (presence broadcasts) to a JID that user blocks.
  Verdict on_write(Event& ev) {
    const Stanza& st = ev.stanza;
    if (!st.from || !ev.origin) return Verdict::pass;
    const Jid& target = ev.origin->jid();
    if (exempt(target, *st.from) || is_blocked_error(st)) return Verdict::pass;
    if (auto list = cached(target.local()); list && list->blocks(*st.from)) {
      if (st.is_request()) host_->send(server::make_error(st, StanzaError::service_unavailable()));
      return Verdict::dropped;
    }
    // The unavailable presence of §3.3 (sent when the block begins) is let through.
    bool farewell = st.kind == StanzaKind::presence && st.type == "unavailable";
    if (!st.is_error() && !farewell && st.from->has_local() && st.from->domain() == host_->domain()) {
      if (auto list = cached(st.from->local()); list && list->blocks(target)) return Verdict::dropped;
    }
    return Verdict::pass;
  }

  // ---- the cache ----

  // The account's list as stored now: from the cache, or loaded (null if the database
  // failed; the checks then let the stanza pass rather than lose it).
  asio::awaitable<ListPtr> fresh_list(const Jid& account) {
    std::string user(account.local());
    std::uint64_t stamp = 0;
    ListPtr hit;
    {
      std::lock_guard lock(mutex_);
      auto it = cache_.find(user);
      if (it == cache_.end()) {
        if (cache_.size() >= kMaxCachedAccounts) evict_locked();
        it = cache_.emplace(user, Entry{nullptr, ++stamps_, false}).first;
      }
      if (it->second.fresh) hit = it->second.list;
      stamp = it->second.stamp;
    }
    if (hit) co_return hit;
    auto query = [account](pqxx::connection& c) { return store::load(c, account); };
    auto loaded = co_await host_->storage().run(std::move(query));
    if (!loaded.ok()) {
      server::log::warning("blocking: cannot load the blocklist of {}: {}", account.str(), loaded.error().message);
      co_return nullptr;
    }
    auto list = std::make_shared<const BlockList>(std::move(loaded).value());
    {
      std::lock_guard lock(mutex_);
      auto it = cache_.find(user);
      if (it != cache_.end() && it->second.stamp == stamp) {
        it->second.list = list;
        it->second.fresh = true;
      }
    }
    co_return list;
  }

  asio::awaitable<void> preload(Jid account) {
    ListPtr list = co_await fresh_list(account);
    (void)list;
  }

  void invalidate(const Jid& account) {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(account.local()); it != cache_.end()) {
      it->second.stamp = ++stamps_;
      it->second.fresh = false;
    }
  }

  ListPtr cached(std::string_view user) {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(user);
    return it == cache_.end() ? nullptr : it->second.list;
  }

  // Drops the lists of accounts that have no session (they are reloaded when needed).
  void evict_locked() {
    std::erase_if(cache_, [this](const auto& kv) {
      auto jid = Jid::make(kv.first, host_->domain());
      return !jid || host_->sessions().of_account(*jid).empty();
    });
  }

  server::HostContext* host_ = nullptr;
  std::size_t max_items_ = 1000;
  std::atomic<std::uint64_t> pushes_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> cache_;  // by username
  std::uint64_t stamps_ = 0;
  // Bare JID -> the sessions that requested the blocklist (XEP-0191 §3.2).
  std::unordered_map<std::string, std::vector<std::weak_ptr<server::ClientSession>>> interested_;
};

}  // namespace

server::ModuleInfo info() {
  return {"blocking", "XEP-0191: blocking command (blocklists, and blocking what they name)",
          [] { return std::make_unique<Blocking>(); }};
}

}  // namespace parley::modules::blocking
