// The presence scenario: roster and subscription set-up, then log-in/log-out rounds.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

#include "contrib/bench/connection.hpp"
#include "contrib/bench/scenarios.hpp"

namespace parley::bench {

// ---------------------------------------------------------------------------------------
// presence: A accounts on a ring, each with K contacts (K/2 on each side), subscribed both
// ways by a standard RFC 6121 §3 exchange. Then the even accounts stay online ("observers")
// while the odd ones ("movers") log in, send initial presence, wait, send unavailable and
// log out, R times. Measured: the time until a mover has its online contacts' presence
// (the server's probes, RFC 6121 §4.3), the broadcast of available and unavailable presence
// to the observers (§4.2.2, §4.5.2).

namespace {

using asio::as_tuple;
using asio::use_awaitable;

struct PresenceShared {
  std::string prefix, domain;
  int accounts = 0;
  std::vector<std::vector<int>> contacts;
  std::vector<int> observers_of;  // per mover: how many of its contacts are observers
  std::unique_ptr<std::atomic<int>[]> round, avail_seen, unavail_seen;
  std::unique_ptr<std::atomic<std::int64_t>[]> avail_sent, unavail_sent;
  Latencies login, initial, available, unavailable;
  Counter presences{0}, missing_probe{0}, missing_available{0}, missing_unavailable{0};
  Counter both{0}, both_expected{0};
  Counter rounds_done{0};
  Reasons failures;
  std::string roster_unsupported;
  std::mutex mu;

  int index_of(std::string_view jid) const {
    std::string bare = bare_jid_of(jid);
    auto at = bare.find('@');
    if (at == std::string::npos || bare.substr(at + 1) != domain) return -1;
    std::string local = bare.substr(0, at);
    if (!local.starts_with(prefix)) return -1;
    try {
      std::size_t used = 0;
      int n = std::stoi(local.substr(prefix.size()), &used);
      if (used != local.size() - prefix.size() || n < 0 || n >= accounts) return -1;
      return n;
    } catch (const std::exception&) {
      return -1;
    }
  }
};

// Accepts subscription requests (RFC 6121 §3.1.4) and swallows other presence.
struct AcceptSubscriptions {
  std::shared_ptr<Connection> conn;  // weak enough: cleared by the reader when it ends
  bool operator()(Element& e) const {
    if (e.name() != "presence") return false;
    if (e.attr("type") == "subscribe") {
      if (auto from = e.attr("from")) conn->send("<presence type='subscribed' to='" + xml_escape(bare_jid_of(*from)) + "'/>");
    }
    return true;
  }
};

asio::awaitable<void> presence_setup_start(Run* run, std::shared_ptr<PresenceShared> sh, std::shared_ptr<Connection> conn) {
  conn->on_stanza = AcceptSubscriptions{conn};
  std::string id = next_id();
  std::string get = "<iq type='get' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>";
  auto r = co_await conn->iq(std::move(get), id, Clock::now() + run->options.target.op_timeout);
  if (!r || r->attr("type") != "result") {
    std::lock_guard lock(sh->mu);
    sh->roster_unsupported = r ? "roster get (jabber:iq:roster) answered " + error_condition(*r) : "no answer to a roster get";
    co_return;
  }
  conn->send("<presence/>");
  bool synced = co_await round_trip(conn, run->options.target.domain, run->options.target.op_timeout);
  if (!synced) sh->failures.add("no answer to ping after initial presence");
}

asio::awaitable<void> presence_subscribe(Run* run, std::shared_ptr<PresenceShared> sh, std::shared_ptr<Connection> conn,
                                         int account, std::chrono::milliseconds wait) {
  const auto& contacts = sh->contacts[account];
  for (int c : contacts) {
    conn->send("<presence type='subscribe' to='" + xml_escape(run->options.target.bare_jid(c)) + "'/>");
  }
  std::set<std::string> want;
  for (int c : contacts) want.insert(run->options.target.bare_jid(c));
  auto until = Clock::now() + wait;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::size_t both = 0;
  for (;;) {
    std::string id = next_id();
    std::string get = "<iq type='get' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>";
    auto r = co_await conn->iq(std::move(get), id, Clock::now() + run->options.target.op_timeout);
    both = 0;
    if (r && r->attr("type") == "result") {
      if (const Element* q = r->find_child("query", "jabber:iq:roster")) {
        for (const auto& item : q->children()) {
          auto jid = item.attr("jid");
          if (jid && want.contains(std::string(*jid)) && item.attr("subscription") == "both") ++both;
        }
      }
    }
    if (both >= want.size() || Clock::now() >= until || conn->closed()) break;
    timer.expires_after(std::chrono::milliseconds(300));
    co_await timer.async_wait(as_tuple(use_awaitable));
  }
  sh->both += both;
  sh->both_expected += want.size();
}

// Observers: record when a mover's available / unavailable presence arrives.
struct ObserverHandler {
  std::shared_ptr<PresenceShared> sh;
  std::shared_ptr<std::vector<int>> last_available, last_unavailable;  // round seen, per mover
  bool operator()(Element& e) const {
    if (e.name() != "presence") return false;
    ++sh->presences;
    int m = sh->index_of(e.attr("from").value_or(""));
    if (m < 0 || m % 2 == 0) return true;
    auto type = e.attr("type");
    int round = sh->round[m].load();
    if (!type) {
      if ((*last_available)[m] != round) {
        (*last_available)[m] = round;
        sh->available.add(static_cast<double>(now_ns() - sh->avail_sent[m].load()) / 1e6);
        ++sh->avail_seen[m];
      }
    } else if (*type == "unavailable") {
      if ((*last_unavailable)[m] != round && sh->unavail_sent[m].load() != 0) {
        (*last_unavailable)[m] = round;
        sh->unavailable.add(static_cast<double>(now_ns() - sh->unavail_sent[m].load()) / 1e6);
        ++sh->unavail_seen[m];
      }
    }
    return true;
  }
};

asio::awaitable<void> observer_start(Run* run, std::shared_ptr<PresenceShared> sh, std::shared_ptr<Connection> conn) {
  auto seen_a = std::make_shared<std::vector<int>>(sh->accounts, -1);
  auto seen_u = std::make_shared<std::vector<int>>(sh->accounts, -1);
  conn->on_stanza = ObserverHandler{sh, seen_a, seen_u};
  conn->send("<presence/>");
  bool synced = co_await round_trip(conn, run->options.target.domain, run->options.target.op_timeout);
  if (!synced) sh->failures.add("observer: no answer to ping after initial presence");
}

struct MoverState {
  std::set<int> got;
  std::size_t expected = 0;
  Clock::time_point sent;
  bool complete = false;
};

// Movers: count their observer contacts' presence after their own initial presence.
struct MoverHandler {
  std::shared_ptr<PresenceShared> sh;
  std::shared_ptr<MoverState> st;
  bool operator()(Element& e) const {
    if (e.name() != "presence") return false;
    ++sh->presences;
    int c = sh->index_of(e.attr("from").value_or(""));
    if (c < 0 || c % 2 != 0 || e.attr("type")) return true;
    st->got.insert(c);
    if (!st->complete && st->got.size() >= st->expected) {
      st->complete = true;
      sh->initial.add_since(st->sent);
    }
    return true;
  }
};

asio::awaitable<void> mover(Run* run, std::shared_ptr<PresenceShared> sh, int m) {
  auto executor = co_await asio::this_coro::executor;
  const Options& o = run->options;
  asio::steady_timer timer(executor);
  std::size_t expected = static_cast<std::size_t>(sh->observers_of[m]);
  for (int r = 0; r < o.rounds && Clock::now() < run->deadline; ++r) {
    auto conn = std::make_shared<Connection>(executor, run->tls, o.target);
    std::string user = o.target.user(m);
    std::string resource = "mover";
    auto start = Clock::now();
    std::string err = co_await conn->login(user, resource);
    if (!err.empty()) {
      sh->failures.add("mover login: " + err);
      continue;
    }
    sh->login.add_since(start);
    auto st = std::make_shared<MoverState>();
    st->expected = expected;
    conn->on_stanza = MoverHandler{sh, st};
    sh->round[m] = r;
    sh->avail_seen[m] = 0;
    sh->unavail_sent[m] = 0;
    sh->avail_sent[m] = now_ns();
    st->sent = Clock::now();
    conn->send("<presence/>");
    auto until = Clock::now() + o.grace;
    while (Clock::now() < until && (st->got.size() < expected || sh->avail_seen[m].load() < static_cast<int>(expected))) {
      timer.expires_after(std::chrono::milliseconds(2));
      co_await timer.async_wait(as_tuple(use_awaitable));
    }
    sh->missing_probe += expected - std::min(expected, st->got.size());
    sh->missing_available += expected - std::min<std::size_t>(expected, sh->avail_seen[m].load());
    sh->unavail_seen[m] = 0;
    sh->unavail_sent[m] = now_ns();
    conn->send("<presence type='unavailable'/>");
    until = Clock::now() + o.grace;
    while (Clock::now() < until && sh->unavail_seen[m].load() < static_cast<int>(expected)) {
      timer.expires_after(std::chrono::milliseconds(2));
      co_await timer.async_wait(as_tuple(use_awaitable));
    }
    sh->missing_unavailable += expected - std::min<std::size_t>(expected, sh->unavail_seen[m].load());
    co_await conn->close();
    ++sh->rounds_done;
  }
}

}  // namespace

Outcome run_presence(Run& run) {
  const Options& o = run.options;
  Outcome out;
  Json& r = out.results;
  auto sh = std::make_shared<PresenceShared>();
  sh->prefix = o.target.user_prefix;
  sh->domain = o.target.domain;
  sh->accounts = o.accounts;
  sh->contacts.resize(o.accounts);
  sh->observers_of.assign(o.accounts, 0);
  for (int i = 0; i < o.accounts; ++i) {
    for (int d = 1; d <= o.contacts / 2; ++d) {
      sh->contacts[i].push_back((i + d) % o.accounts);
      sh->contacts[i].push_back((i - d + o.accounts) % o.accounts);
    }
    for (int c : sh->contacts[i]) {
      if (c % 2 == 0) ++sh->observers_of[i];
    }
  }
  sh->round = std::make_unique<std::atomic<int>[]>(o.accounts);
  sh->avail_seen = std::make_unique<std::atomic<int>[]>(o.accounts);
  sh->unavail_seen = std::make_unique<std::atomic<int>[]>(o.accounts);
  sh->avail_sent = std::make_unique<std::atomic<std::int64_t>[]>(o.accounts);
  sh->unavail_sent = std::make_unique<std::atomic<std::int64_t>[]>(o.accounts);
  for (int i = 0; i < o.accounts; ++i) {
    sh->round[i] = -1;
    sh->avail_seen[i] = sh->unavail_seen[i] = 0;
    sh->avail_sent[i] = sh->unavail_sent[i] = 0;
  }
  r["accounts"] = o.accounts;
  r["contacts_per_account"] = o.contacts;
  r["rounds"] = o.rounds;

  // --- set-up: everyone online, roster reachable, subscriptions both ways.
  auto setup_start = Clock::now();
  std::vector<Slot> slots(static_cast<std::size_t>(o.accounts));
  std::vector<int> users(slots.size());
  std::vector<std::string> resources(slots.size(), "setup");
  for (std::size_t i = 0; i < slots.size(); ++i) users[i] = static_cast<int>(i);
  LoginTally setup_login;
  if (!open_all(run, slots, users, resources, o.concurrency, setup_login, "presence: set-up login")) {
    return timed_out(std::move(out), "set-up login");
  }
  if (setup_login.failed.load() > 0) {
    close_all(run, slots);
    out.status = "failed";
    out.message = "set-up logins failed: " + setup_login.reasons.top();
    out.summary = "presence: " + out.message;
    return out;
  }
  {
    Group g;
    for (auto& s : slots) g.spawn(*s.io, presence_setup_start(&run, sh, s.conn));
    run.progress.set("presence: roster check", [] { return std::string("roster get, initial presence"); });
    if (!g.wait(run.deadline, run.progress)) {
      run.pool.halt();
      return timed_out(std::move(out), "set-up");
    }
  }
  if (!sh->roster_unsupported.empty()) {
    close_all(run, slots);
    out.status = "unsupported";
    out.message = "the server does not support rosters (RFC 6121 §2): " + sh->roster_unsupported;
    out.summary = "presence: unsupported (" + sh->roster_unsupported + ")";
    return out;
  }
  {
    Group g;
    auto wait = std::max<std::chrono::milliseconds>(std::chrono::seconds(10), o.target.op_timeout);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      g.spawn(*slots[i].io, presence_subscribe(&run, sh, slots[i].conn, static_cast<int>(i), wait));
    }
    PresenceShared* s = sh.get();
    run.progress.set("presence: subscriptions", [s] { return std::to_string(s->both.load()) + " roster items 'both'"; });
    if (!g.wait(run.deadline, run.progress)) {
      run.pool.halt();
      return timed_out(std::move(out), "subscriptions");
    }
  }
  if (!close_all(run, slots)) return timed_out(std::move(out), "set-up close");
  Json setup = Json::object();
  setup["subscriptions_both"] = sh->both.load();
  setup["subscriptions_expected"] = sh->both_expected.load();
  setup["seconds"] = round_to(std::chrono::duration<double>(Clock::now() - setup_start).count(), 3);
  r["setup"] = setup;
  if (sh->both.load() < sh->both_expected.load()) {
    out.status = "unsupported";
    out.message = "presence subscriptions did not complete: " + std::to_string(sh->both.load()) + " of " +
                  std::to_string(sh->both_expected.load()) +
                  " roster items reached subscription='both' (does the server implement RFC 6121 §3 subscriptions?)";
    out.summary = "presence: unsupported (" + out.message + ")";
    return out;
  }

  // --- measurement: observers online, movers come and go.
  std::vector<Slot> observers;
  std::vector<int> observer_users;
  std::vector<std::string> observer_resources;
  for (int i = 0; i < o.accounts; i += 2) {
    observers.emplace_back();
    observer_users.push_back(i);
    observer_resources.push_back("observer");
  }
  LoginTally observer_login;
  if (!open_all(run, observers, observer_users, observer_resources, o.concurrency, observer_login, "presence: observers")) {
    return timed_out(std::move(out), "observer login");
  }
  {
    Group g;
    for (auto& s : observers) {
      if (s.conn) g.spawn(*s.io, observer_start(&run, sh, s.conn));
    }
    if (!g.wait(run.deadline, run.progress)) {
      run.pool.halt();
      return timed_out(std::move(out), "observer presence");
    }
  }
  auto measure_start = Clock::now();
  {
    Group g;
    int movers = 0;
    for (int m = 1; m < o.accounts; m += 2, ++movers) g.spawn(run.pool.next(), mover(&run, sh, m));
    PresenceShared* s = sh.get();
    int total = movers * o.rounds;
    run.progress.set("presence: log in and out", [s, total] {
      return std::to_string(s->rounds_done.load()) + "/" + std::to_string(total) + " rounds, " +
             std::to_string(s->presences.load()) + " presences received";
    });
    if (!g.wait(run.deadline, run.progress)) {
      run.pool.halt();
      return timed_out(std::move(out), "log in and out");
    }
  }
  auto measure_time = Clock::now() - measure_start;
  bool closed = close_all(run, observers);
  r["observers"] = observers.size();
  r["observer_login_failures"] = observer_login.failed.load();
  r["mover_rounds"] = sh->rounds_done.load();
  r["mover_login_ms"] = sh->login.summary();
  r["initial_presence_ms"] = sh->initial.summary();
  r["available_broadcast_ms"] = sh->available.summary();
  r["unavailable_broadcast_ms"] = sh->unavailable.summary();
  r["presences_received"] = sh->presences.load();
  r["presences_per_s"] = per_second(sh->presences.load(), measure_time);
  r["missing_probe_replies"] = sh->missing_probe.load();
  r["missing_available"] = sh->missing_available.load();
  r["missing_unavailable"] = sh->missing_unavailable.load();
  r["failure_reasons"] = sh->failures.summary();
  std::uint64_t missing = sh->missing_probe.load() + sh->missing_available.load() + sh->missing_unavailable.load();
  out.summary = "presence: " + std::to_string(sh->rounds_done.load()) + " log-in/out rounds, contacts' presence p50 " +
                format_ms(sh->initial, 0.5) + ", broadcast p50 " + format_ms(sh->available, 0.5) + " p99 " + format_ms(sh->available, 0.99) +
                ", unavailable p50 " + format_ms(sh->unavailable, 0.5) + ", missing " + std::to_string(missing);
  if (!closed) return timed_out(std::move(out), "close");
  if (missing > 0 || sh->failures.total() > 0 || observer_login.failed.load() > 0) {
    out.status = "failed";
    out.message = std::to_string(missing) + " presences missing";
    if (sh->failures.total() > 0) out.message += "; " + sh->failures.top();
  }
  return out;
}

}  // namespace parley::bench
