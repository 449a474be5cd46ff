// XEP-0313 Message Archive Management for user archives: one-to-one messages of local
// accounts are archived in both directions, stamped with an XEP-0359 stanza-id on delivery,
// and queried with a data form and RSM paging; XEP-0441 preferences; retention by age.
//
// Writes are write-behind (README.md, "Durability"): the id is made in memory, the stanza is
// stamped and delivered at once, and one writer coroutine per host flushes the queue in
// multi-row transactions, each row at most flush_interval_ms (50) after it was queued.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "modules/mam/mam.hpp"
#include "modules/mam/mam_forms.hpp"
#include "modules/mam/mam_ids.hpp"
#include "modules/mam/mam_prefs_cache.hpp"
#include "modules/mam/mam_rules.hpp"
#include "modules/mam/mam_store.hpp"
#include "modules/mam/mam_writer.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::mam {
namespace {

namespace log = server::log;
using server::Event;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::Verdict;
using server::xml::Element;
using Clock = std::chrono::steady_clock;

// Retention deletes at most this many rows per transaction.
constexpr std::int64_t kPurgeBatch = 10000;

StanzaError to_stanza_error(const FormError& e) {
  if (e.condition == "feature-not-implemented") return StanzaError::feature_not_implemented(e.text);
  if (e.condition == "item-not-found") return StanzaError::item_not_found(e.text);
  if (e.condition == "policy-violation") return StanzaError::policy_violation(e.text);
  return StanzaError::bad_request(e.text);
}

const Element* payload(const Stanza& st) {
  for (const auto& child : st.element.children()) return &child;
  return nullptr;
}

// ---- The module -------------------------------------------------------------------------

class Mam final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    const auto& settings = host.settings();
    max_page_ = settings.integer("max_page", 250, 1, 10000);
    expiry_ = settings.duration("archive_expiry", std::chrono::seconds(0), std::chrono::seconds(1),
                                std::chrono::seconds(std::int64_t{100} * 365 * 86400));
    auto purge_interval = settings.duration("purge_interval", std::chrono::seconds(3600), std::chrono::seconds(1),
                                            std::chrono::seconds(7 * 86400));
    auto flush_after = std::chrono::milliseconds(settings.integer("flush_interval_ms", 50, 1, 60000));
    std::string policy = settings.string("default_policy", "always");
    auto parsed = parse_policy(policy);
    if (!parsed) {
      throw server::ConfigError("[host.mam] default_policy must be \"always\", \"never\" or \"roster\", not \"" +
                                policy + "\"");
    }
    default_policy_ = *parsed;

    prepare_statements(host.storage().database());
    writer_ = std::make_shared<Writer>(host.storage(), host.executor(), flush_after);
    writer_->start();
    if (expiry_.count() > 0) {
      asio::co_spawn(host.executor(),
                     purge_loop(&host.storage(), std::string(host.domain()), expiry_, purge_interval, stopped_),
                     asio::detached);
    }

    host.add_disco_feature(std::string(kMamNs), true);
    host.add_disco_feature(std::string(kMamExtended), true);
    // Priority 50: above the message module (0), carbons (10) and offline storage (-10), so
    // the stanza-id is on the message before it is delivered, copied or stored offline.
    for (const char* event : {"message/bare", "message/full"}) {
      host.hook_async(event, [this](Event& ev) { return incoming(ev); }, 50);
    }
    // Priority 50: what a local client sends, archived for the sender before it is routed
    // (above carbons' -10). Filters that drop a message should use a higher priority.
    for (const char* event : {"pre-message/bare", "pre-message/full"}) {
      host.hook_async(event, [this](Event& ev) { return outgoing(ev); }, 50);
    }
    host.hook_async("iq-set/self/urn:xmpp:mam:2:query", [this](Event& ev) { return query(ev); });
    host.hook("iq-get/self/urn:xmpp:mam:2:query", [this](Event& ev) {
      auto reply = server::make_result(ev.stanza);
      reply.element.add_child(query_form());
      answer(ev, std::move(reply));
      return Verdict::handled;
    });
    host.hook_async("iq-get/self/urn:xmpp:mam:2:metadata", [this](Event& ev) { return metadata(ev); });
    host.hook_async("iq-get/self/urn:xmpp:mam:2:prefs", [this](Event& ev) { return get_prefs(ev); });
    host.hook_async("iq-set/self/urn:xmpp:mam:2:prefs", [this](Event& ev) { return set_prefs(ev); });
    // A deleted account's preferences must not outlive it (a new account of the same name
    // starts from the defaults), nor may "no such account" outlive a new account's creation.
    for (const char* event : {"user/created", "user/deleted"}) {
      host.hook(event, [this](Event& ev) {
        prefs_.forget(ev.stanza.to->bare().full());
        return Verdict::pass;
      });
    }
    // XEP-0313, Security Considerations: someone else's archive is forbidden.
    auto forbidden = [&host](Event& ev) {
      host.send(server::make_error(ev.stanza, StanzaError::forbidden("an archive belongs to its account alone")));
      return Verdict::handled;
    };
    for (const char* event : {"iq-set/bare/urn:xmpp:mam:2:query", "iq-get/bare/urn:xmpp:mam:2:query",
                              "iq-get/bare/urn:xmpp:mam:2:metadata", "iq-get/bare/urn:xmpp:mam:2:prefs",
                              "iq-set/bare/urn:xmpp:mam:2:prefs"}) {
      host.hook(event, forbidden);
    }
  }

  void stop() override {
    *stopped_ = true;
    if (writer_) writer_->stop();
  }

 private:
  // ---- archiving ----

  // A message to a local account (message/bare, message/full).
  asio::awaitable<Verdict> incoming(Event& ev) {
    Stanza& st = ev.stanza;
    if (!st.to || !st.to->has_local()) co_return Verdict::pass;
    const Jid account = st.to->bare();
    // XEP-0359, Security Considerations: a stanza-id claiming to come from this archive was not made here.
    strip_stanza_ids(st.element, account.full());
    if (!st.from || !is_archivable(st)) co_return Verdict::pass;
    const Jid peer = *st.from;
    bool keep = co_await should_archive(account, peer);
    if (!keep) co_return Verdict::pass;
    std::int64_t id = ids_.next();
    if (!writer_->push(make_row(account, peer, false, st.element, id, ev.durable))) {
      queue_full();
      co_return Verdict::pass;
    }
    // XEP-0313 §3.5: the archive's id, on the message as it is delivered.
    add_stanza_id(st.element, account.full(), encode_id(id));
    co_return Verdict::pass;
  }

  // A message a local client sends (pre-message/bare, pre-message/full).
  asio::awaitable<Verdict> outgoing(Event& ev) {
    Stanza& st = ev.stanza;
    if (!ev.origin || !st.from || !st.to || !st.to->has_local()) co_return Verdict::pass;
    const Jid account = st.from->bare();
    // To oneself: archived once, as it arrives (incoming).
    if (st.to->bare() == account || !is_archivable(st)) co_return Verdict::pass;
    const Jid peer = *st.to;
    bool keep = co_await should_archive(account, peer);
    if (!keep) co_return Verdict::pass;
    // No stanza-id on the way out: XEP-0313 §3.5 keeps it from the contacts.
    if (!writer_->push(make_row(account, peer, true, st.element, ids_.next(), ev.durable))) queue_full();
    co_return Verdict::pass;
  }

  static ArchiveRow make_row(const Jid& account, const Jid& peer, bool outgoing, const Element& message,
                             std::int64_t id, std::shared_ptr<void> hold) {
    ArchiveRow row;
    row.hold = std::move(hold);
    row.host = std::string(account.domain());
    row.user = std::string(account.local());
    row.id = id;
    row.micros = archive_micros(id);
    row.peer = peer.bare().full();
    row.peer_resource = std::string(peer.resource());
    row.outgoing = outgoing;
    row.stanza = to_stored(message);
    row.body = body_text(message);
    return row;
  }

  void queue_full() {
    // At most one warning a minute: this happens for every message while it lasts.
    auto now = Clock::now().time_since_epoch().count();
    auto last = last_full_warning_.load();
    if (now - last > std::chrono::duration_cast<Clock::duration>(std::chrono::minutes(1)).count() &&
        last_full_warning_.compare_exchange_strong(last, now)) {
      log::warning("mam: {} archived messages wait for the database; new messages are not archived",
                   Writer::kQueueLimit);
    }
  }

  // XEP-0441 preferences of `account` for `peer`; false when the account does not exist or
  // its preferences cannot be read (archiving against a 'never' would be worse than a gap).
  asio::awaitable<bool> should_archive(const Jid& account, const Jid& peer) {
    const std::string key = account.full();
    auto cached = prefs_.find(key);
    if (!cached) {
      const auto generation = prefs_.generation();
      auto load = [host = std::string(account.domain()), user = std::string(account.local())](pqxx::connection& c) {
        return load_prefs(c, host, user);
      };
      auto loaded = co_await host_->storage().run(std::move(load));
      if (!loaded.ok()) {
        log::warning("mam: cannot read the preferences of {}: {}", key, safe_error(loaded.error()));
        co_return false;
      }
      PrefsCache::Entry entry;
      entry.exists = loaded->has_value();
      if (entry.exists) entry.prefs = (*loaded)->stored ? (*loaded)->prefs : Prefs{default_policy_, {}, {}};
      prefs_.put(key, entry, generation);
      cached = std::move(entry);
    }
    if (!cached->exists) co_return false;
    Decision d = decide(cached->prefs, peer);
    if (d != Decision::ask_roster) co_return d == Decision::archive;
    // 'roster': only contacts on the roster, when the roster module's table is there.
    const std::string contact = peer.bare().full();
    if (auto member = prefs_.in_roster(key, contact)) co_return *member;
    const auto roster_generation = prefs_.generation();
    auto ask = [host = std::string(account.domain()), user = std::string(account.local()), contact](pqxx::connection& c) {
      return roster_available(c) ? std::optional<bool>(in_roster(c, host, user, contact)) : std::nullopt;
    };
    auto member = co_await host_->storage().run(std::move(ask));
    if (!member.ok()) {
      log::warning("mam: cannot read the roster of {}: {}", key, safe_error(member.error()));
      co_return false;
    }
    bool archive = member->value_or(true);  // no roster table: 'roster' acts as 'always'
    prefs_.put_roster(key, contact, archive, roster_generation);
    co_return archive;
  }

  // ---- queries ----

  struct QueryOutcome {
    PageResult page;
    std::vector<std::optional<Element>> messages;  // parsed here, on the storage pool
  };

  asio::awaitable<Verdict> query(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const Jid account = ev.origin->jid().bare();
    // Read your own writes: what was queued before this query is in the table first.
    std::uint64_t position = writer_->pushed();
    co_await writer_->caught_up(position);
    auto parsed = parse_query(*payload(ev.stanza));
    if (auto* e = std::get_if<FormError>(&parsed)) {
      answer(ev, server::make_error(ev.stanza, to_stanza_error(*e)));
      co_return Verdict::handled;
    }
    auto& request = std::get<QueryRequest>(parsed);
    auto resolved = to_store_query(request, std::string(account.domain()), std::string(account.local()), max_page_);
    if (auto* e = std::get_if<FormError>(&resolved)) {
      answer(ev, server::make_error(ev.stanza, to_stanza_error(*e)));
      co_return Verdict::handled;
    }
    auto job = [q = std::get<StoreQuery>(std::move(resolved))](pqxx::connection& c) {
      QueryOutcome out;
      out.page = run_query(c, q);
      StoredStanzaReader reader;
      for (const auto& m : out.page.items) out.messages.push_back(reader.read(m.stanza));
      return out;
    };
    auto result = co_await host_->storage().run(std::move(job));
    if (!result.ok()) {
      log::warning("mam: query of {} failed: {}", account.str(), safe_error(result.error()));
      answer(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    PageResult& page = result->page;
    if (page.not_found) {
      answer(ev, server::make_error(ev.stanza, StanzaError::item_not_found("no message with that id in the archive")));
      co_return Verdict::handled;
    }
    // The results, then the iq (XEP-0313 §4.2): both through the session's one queue, so
    // the iq cannot overtake them.
    std::vector<std::size_t> order(page.items.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = request.flip_page ? order.size() - 1 - i : i;
    for (std::size_t i : order) {
      auto& message = result->messages[i];
      if (!message) {
        log::error("mam: archived message {} of {} cannot be parsed", encode_id(page.items[i].id), account.str());
        continue;
      }
      answer(ev, result_message(account, ev.origin->jid(), request.queryid, page.items[i], std::move(*message)));
    }
    auto reply = server::make_result(ev.stanza);
    auto& fin = reply.element.add_child("fin", std::string(kMamNs));
    fin.set_attr("complete", page.complete ? "true" : "false");
    fin.set_attr("stable", "true");  // one database, one snapshot per query
    auto& set = fin.add_child("set", std::string(kRsmNs));
    if (!page.items.empty()) {
      // XEP-0059: first and last of this page in archive order (also when flipped).
      auto& first = set.add_child("first", std::string(kRsmNs));
      first.set_attr("index", std::to_string(page.first_index));
      first.add_text(encode_id(page.items.front().id));
      set.add_child("last", std::string(kRsmNs)).add_text(encode_id(page.items.back().id));
    }
    set.add_child("count", std::string(kRsmNs)).add_text(std::to_string(page.count));
    answer(ev, std::move(reply));
    co_return Verdict::handled;
  }

  static Stanza result_message(const Jid& account, const Jid& to, const std::string& queryid,
                               const ArchivedMessage& item, Element message) {
    Element m("message", std::string(server::kClientNs));
    auto& result = m.add_child("result", std::string(kMamNs));
    if (!queryid.empty()) result.set_attr("queryid", queryid);
    result.set_attr("id", encode_id(item.id));
    auto& forwarded = result.add_child("forwarded", std::string(kForwardNs));
    forwarded.add_child("delay", std::string(kDelayNs)).set_attr("stamp", format_datetime(item.micros));
    forwarded.add_child(std::move(message));
    Stanza st{std::move(m), server::StanzaKind::message, "", account, to};
    st.sync_addresses();
    return st;
  }

  // XEP-0313 archive metadata (urn:xmpp:mam:2#extended): the first and last message of the archive.
  asio::awaitable<Verdict> metadata(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const Jid account = ev.origin->jid().bare();
    auto job = [host = std::string(account.domain()), user = std::string(account.local())](pqxx::connection& c) {
      return archive_bounds(c, host, user);
    };
    auto bounds = co_await host_->storage().run(std::move(job));
    if (!bounds.ok()) {
      log::warning("mam: metadata of {} failed: {}", account.str(), safe_error(bounds.error()));
      answer(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    auto reply = server::make_result(ev.stanza);
    auto& meta = reply.element.add_child("metadata", std::string(kMamNs));
    for (const auto* which : {&bounds->first, &bounds->last}) {
      if (!*which) continue;
      auto& e = meta.add_child(which == &bounds->first ? "start" : "end", std::string(kMamNs));
      e.set_attr("id", encode_id((*which)->id));
      e.set_attr("timestamp", format_datetime((*which)->micros));
    }
    answer(ev, std::move(reply));
    co_return Verdict::handled;
  }

  // ---- preferences (XEP-0441) ----

  asio::awaitable<Verdict> get_prefs(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const Jid account = ev.origin->jid().bare();
    auto job = [host = std::string(account.domain()), user = std::string(account.local())](pqxx::connection& c) {
      return load_prefs(c, host, user);
    };
    auto loaded = co_await host_->storage().run(std::move(job));
    if (!loaded.ok() || !loaded->has_value()) {
      if (!loaded.ok()) log::warning("mam: cannot read the preferences of {}: {}", account.str(), safe_error(loaded.error()));
      answer(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    Prefs prefs = (*loaded)->stored ? (*loaded)->prefs : Prefs{default_policy_, {}, {}};
    auto reply = server::make_result(ev.stanza);
    reply.element.add_child(prefs_element(prefs));
    answer(ev, std::move(reply));
    co_return Verdict::handled;
  }

  asio::awaitable<Verdict> set_prefs(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    const Jid account = ev.origin->jid().bare();
    auto parsed = parse_prefs(*payload(ev.stanza));
    if (auto* e = std::get_if<FormError>(&parsed)) {
      answer(ev, server::make_error(ev.stanza, to_stanza_error(*e)));
      co_return Verdict::handled;
    }
    Prefs prefs = std::get<Prefs>(std::move(parsed));
    const auto generation = prefs_.generation();
    auto job = [host = std::string(account.domain()), user = std::string(account.local()), prefs](pqxx::connection& c) {
      return save_prefs(c, host, user, prefs);
    };
    auto saved = co_await host_->storage().run(std::move(job));
    if (!saved.ok() || !*saved) {
      if (!saved.ok()) log::warning("mam: cannot store the preferences of {}: {}", account.str(), safe_error(saved.error()));
      answer(ev, server::make_error(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    prefs_.put_saved(account.full(), PrefsCache::Entry{true, prefs}, generation);
    // XEP-0441: the result carries the preferences now in force.
    auto reply = server::make_result(ev.stanza);
    reply.element.add_child(prefs_element(prefs));
    answer(ev, std::move(reply));
    co_return Verdict::handled;
  }

  // ---- retention ----

  // Every `interval` (the first time after at most a minute), deletes the host's messages
  // older than `expiry`, kPurgeBatch rows per transaction. A coroutine function with its state
  // as parameters (GCC 12, modules/README.md); `stopped` outlives the module.
  static asio::awaitable<void> purge_loop(storage::Runner* runner, std::string domain, std::chrono::seconds expiry,
                                          std::chrono::seconds interval, std::shared_ptr<std::atomic<bool>> stopped) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    auto wait = std::min<std::chrono::seconds>(interval, std::chrono::seconds(60));
    for (;;) {
      timer.expires_after(wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      wait = interval;
      if (*stopped) co_return;
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      std::int64_t cutoff = first_id_of_ms(now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(expiry).count());
      std::size_t total = 0;
      for (;;) {
        auto job = [domain, cutoff](pqxx::connection& c) { return purge_batch(c, domain, cutoff, kPurgeBatch); };
        auto deleted = co_await runner->run(std::move(job));
        if (!deleted.ok()) {
          log::warning("mam: purge on {} failed: {}", domain, safe_error(deleted.error()));
          break;
        }
        total += *deleted;
        if (*deleted < static_cast<std::size_t>(kPurgeBatch) || *stopped) break;
      }
      if (total > 0) log::info("mam: purged {} archived messages older than {} s on {}", total, expiry.count(), domain);
    }
  }

  void answer(Event& ev, Stanza reply) {
    if (ev.origin) {
      ev.origin->send(std::move(reply));
    } else {
      host_->send(std::move(reply));
    }
  }

  server::HostContext* host_ = nullptr;
  std::int64_t max_page_ = 250;
  std::chrono::seconds expiry_{0};
  Policy default_policy_ = Policy::always;
  IdGenerator ids_;
  PrefsCache prefs_;
  std::shared_ptr<Writer> writer_;
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<Clock::rep> last_full_warning_{0};
};

}  // namespace

server::ModuleInfo info() {
  return {"mam", "XEP-0313: message archive management, with XEP-0359 stanza-ids and XEP-0441 preferences",
          [] { return std::make_unique<Mam>(); }};
}

}  // namespace parley::modules::mam
