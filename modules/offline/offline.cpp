// XEP-0160 offline messages: a message for an existing account with no resource to take it
// is stored in PostgreSQL (committed before the handler says "handled", so nothing is lost
// across a restart) and delivered, oldest first and stamped with XEP-0203 <delay/>, to the
// first resource that next sends available presence with a non-negative priority.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <mutex>
#include <unordered_set>

#include "modules/offline/offline.hpp"
#include "modules/offline/offline_rules.hpp"
#include "modules/offline/offline_store.hpp"
#include "server/accounts.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::offline {
namespace {

namespace log = server::log;
using server::ClientSession;
using server::Verdict;

// Messages handed to a session per transaction: bounds the memory one delivery holds.
constexpr int kBatch = 100;

// XEP-0160 §2 step 5: a resource gets the stored messages once it is available with a
// non-negative priority (RFC 6121 §8.5.2.1.1: negative priority never receives bare-JID mail).
bool receives_offline(const ClientSession& s) { return s.available() && s.priority() >= 0; }

/// The sessions whose initial presence has been served (delivery started), so that a
/// presence update does not deliver again; an unavailable presence, a negative priority or
/// the end of the session takes a session out. Thread-safe.
class Served {
 public:
  bool begin(const ClientSession* s) {
    std::lock_guard lock(mutex_);
    return set_.insert(s).second;
  }
  void forget(const ClientSession* s) {
    std::lock_guard lock(mutex_);
    set_.erase(s);
  }
  bool contains(const ClientSession* s) const {
    std::lock_guard lock(mutex_);
    return set_.count(s) > 0;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<const ClientSession*> set_;
};

// Runs on the storage pool. Each batch is deleted in a transaction that commits only after
// its messages were handed to the session (ClientSession::send is thread-safe and keeps the
// order), so a failure in between leaves them stored: at least once, never lost.
std::size_t deliver_stored(pqxx::connection& conn, server::HostContext& host,
                           const std::shared_ptr<ClientSession>& session) {
  const server::Jid& jid = session->jid();
  server::Jid account = jid.bare();
  std::size_t delivered = 0;
  for (;;) {
    pqxx::work tx{conn};
    auto batch = take_messages(tx, account, kBatch);
    if (batch.empty()) break;
    // Gone or unavailable meanwhile: leave the messages for the next initial presence.
    if (host.sessions().find(jid) != session || !receives_offline(*session)) break;
    for (auto& m : batch) {
      auto stanza = from_storage(m.stanza);
      if (!stanza) {
        log::error("offline: stored message {} of {} cannot be parsed; removed", m.seq, account.str());
        continue;
      }
      add_delay(*stanza, host.domain(), m.stamp);  // XEP-0160 §2, XEP-0203
      session->send(std::move(*stanza));
    }
    tx.commit();
    delivered += batch.size();
    if (batch.size() < static_cast<std::size_t>(kBatch)) break;
  }
  return delivered;
}

// A coroutine function with by-value parameters, not a capturing lambda, for co_spawn
// (modules/README.md: GCC 12).
asio::awaitable<void> deliver(std::shared_ptr<Served> served, server::HostContext* host,
                              std::shared_ptr<ClientSession> session) {
  auto job = [host, session](pqxx::connection& c) { return deliver_stored(c, *host, session); };
  storage::Result<std::size_t> result = co_await host->storage().run(std::move(job));
  if (!result) {
    log::error("offline: delivery to {} failed: {}", session->jid().str(), result.error().message);
    served->forget(session.get());  // try again at the next available presence
    co_return;
  }
  if (*result > 0) log::info("offline: delivered {} stored messages to {}", *result, session->jid().str());
}

class Offline final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    quota_ = host.settings().integer("quota", 1000, 0, 1'000'000);
    prepare_statements(host.storage().database());
    host.add_disco_feature("msgoffline");  // XEP-0160 §4

    // Priority -10: after the message module (0), which delivers to available resources and
    // passes only when no resource takes the message (for message/full: the resource is gone
    // and nobody else is available), and after any filter-like handler at 0 or above that
    // may still claim the message. Storing is the last resort before the router's
    // service-unavailable default.
    auto on_message = [this](server::Event& ev) { return take(ev); };
    host.hook_async("message/bare", on_message, -10);
    host.hook_async("message/full", on_message, -10);
    host.hook_async("message/offline", [this](server::Event& ev) { return take_over(ev); });

    // Priority 10: before a presence module (0) that may answer "handled" for the broadcast,
    // so that initial presence always reaches us. This handler only starts the delivery (on
    // the storage pool) and passes; it neither waits nor changes the stanza.
    host.hook("presence/self", [this](server::Event& ev) { return on_presence(ev); }, 10);
    host.hook("session/closed", [this](server::Event& ev) {
      served_->forget(ev.origin.get());
      return Verdict::pass;
    });
  }

 private:
  Verdict on_presence(server::Event& ev) {
    if (!ev.origin) return Verdict::pass;
    const std::string& type = ev.stanza.type;
    if (type.empty() && receives_offline(*ev.origin)) {
      if (served_->begin(ev.origin.get())) {
        asio::co_spawn(host_->executor(), deliver(served_, host_, ev.origin), asio::detached);
      }
    } else if (type.empty() || type == "unavailable") {
      served_->forget(ev.origin.get());
    }
    return Verdict::pass;
  }

  asio::awaitable<Verdict> take(server::Event& ev) {
    server::Stanza& st = ev.stanza;
    if (!st.to || !st.to->has_local()) co_return Verdict::pass;
    if (!st.to->is_bare()) {
      // The resource is there: not ours (without the message module the router delivers).
      auto session = host_->sessions().find(*st.to);
      if (session) co_return Verdict::pass;
    }
    switch (disposition(st)) {
      case Disposition::drop: co_return Verdict::dropped;
      case Disposition::refuse: co_return Verdict::pass;  // the router answers service-unavailable
      case Disposition::store: break;
    }
    Verdict v = co_await store(st);
    co_return v;
  }

  // message/offline: another module hands over a message that is already routed (archived,
  // carbon-copied), e.g. stream management for what a hibernating session never
  // acknowledged. Stored like any message; what offline storage does not keep passes.
  asio::awaitable<Verdict> take_over(server::Event& ev) {
    server::Stanza& st = ev.stanza;
    if (!st.to || !st.to->has_local() || disposition(st) != Disposition::store) co_return Verdict::pass;
    Verdict v = co_await store(st);
    co_return v;
  }

  asio::awaitable<Verdict> store(server::Stanza& st) {
    server::Jid account = st.to->bare();
    // RFC 6121 §8.5.2.2: no such account -> service-unavailable (asked on the storage pool).
    server::AccountStore* accounts = &host_->accounts();
    auto exists_job = [accounts, account] { return accounts->exists(account); };
    storage::Result<bool> exists = co_await host_->storage().execute(std::move(exists_job));
    if (!exists) {
      log::error("offline: cannot check the account {}: {}", account.str(), exists.error().message);
      host_->send(server::make_error(st, server::StanzaError::internal_server_error("the message could not be stored")));
      co_return Verdict::handled;
    }
    if (!*exists) {
      host_->send(server::make_error(st, server::StanzaError::service_unavailable()));
      co_return Verdict::handled;
    }

    std::int64_t quota = quota_;
    auto store_job = [account, xml = to_storage(st), quota](pqxx::connection& c) {
      return store_message(c, account, xml, quota);
    };
    storage::Result<StoreOutcome> stored = co_await host_->storage().run(std::move(store_job));
    if (!stored) {
      log::error("offline: storing a message for {} failed: {}", account.str(), stored.error().message);
      host_->send(server::make_error(st, server::StanzaError::internal_server_error("the message could not be stored")));
      co_return Verdict::handled;
    }
    switch (*stored) {
      case StoreOutcome::no_account:  // deleted meanwhile
        host_->send(server::make_error(st, server::StanzaError::service_unavailable()));
        co_return Verdict::handled;
      case StoreOutcome::full:
        // XEP-0160 §2 step 3: a full queue is answered with service-unavailable.
        log::info("offline: the offline storage of {} is full ({} messages)", account.str(), quota);
        host_->send(server::make_error(
            st, server::StanzaError::service_unavailable("the recipient's offline message storage is full")));
        co_return Verdict::handled;
      case StoreOutcome::stored:
        break;
    }
    log::debug("offline: stored a message for {}", account.str());
    kick_delivery(account);
    co_return Verdict::handled;
  }

  // A resource may have sent its initial presence while this message was being stored: its
  // delivery then ran before the row was committed and missed it. Deliver again to it; rows
  // already taken are not taken twice.
  void kick_delivery(const server::Jid& account) {
    for (auto& s : host_->sessions().of_account(account)) {
      if (served_->contains(s.get()) && receives_offline(*s)) {
        asio::co_spawn(host_->executor(), deliver(served_, host_, s), asio::detached);
        return;
      }
    }
  }

  server::HostContext* host_ = nullptr;
  std::int64_t quota_ = 1000;
  std::shared_ptr<Served> served_ = std::make_shared<Served>();
};

}  // namespace

server::ModuleInfo info() {
  return {"offline", "XEP-0160: stores messages for offline accounts and delivers them at the next presence",
          [] { return std::make_unique<Offline>(); }};
}

}  // namespace parley::modules::offline
