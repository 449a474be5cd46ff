// Scenarios about connections themselves: login, idle, reconnect, register; and the
// phases the other scenarios share (logging many connections in, closing them).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include <thread>

#include "contrib/bench/connection.hpp"
#include "contrib/bench/scenarios.hpp"

namespace parley::bench {
namespace {

using asio::as_tuple;
using asio::use_awaitable;

// --- open_all: per context, a few workers take the slots assigned to that context in turn.

struct OpenJob {
  std::vector<Slot>* slots;
  const std::vector<int>* user_of;
  const std::vector<std::string>* resources;
  std::vector<std::vector<std::size_t>> by_context;  // slot indexes, per context
  std::vector<std::size_t> next;                     // per context; touched by its thread only
  LoginTally* tally;
};

asio::awaitable<void> open_worker(Run* run, std::shared_ptr<OpenJob> job, std::size_t context) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::size_t n = job->next[context]++;
    if (n >= job->by_context[context].size()) break;
    std::size_t i = job->by_context[context][n];
    Slot& slot = (*job->slots)[i];
    auto conn = std::make_shared<Connection>(executor, run->tls, run->options.target);
    std::string user = run->options.target.user((*job->user_of)[i]);
    std::string resource = (*job->resources)[i];
    auto start = Clock::now();
    std::string err = co_await conn->login(user, resource);
    if (err.empty()) {
      job->tally->latency.add_since(start);
      ++job->tally->ok;
      slot.conn = conn;
    } else {
      ++job->tally->failed;
      job->tally->reasons.add(err);
      slot.error = err;
    }
  }
}

asio::awaitable<void> close_one(std::shared_ptr<Connection> conn) { co_await conn->close(); }

}  // namespace

Json LoginTally::summary() const {
  Json j = Json::object();
  j["ok"] = ok.load();
  j["failed"] = failed.load();
  j["latency_ms"] = latency.summary();
  j["failure_reasons"] = reasons.summary();
  return j;
}

Outcome timed_out(Outcome o, const std::string& phase) {
  o.status = "timeout";
  o.message = "--timeout reached during " + phase;
  if (o.summary.empty()) o.summary = "timeout during " + phase;
  return o;
}

bool open_all(Run& run, std::vector<Slot>& slots, const std::vector<int>& user_of,
              const std::vector<std::string>& resources, int concurrency, LoginTally& tally,
              const std::string& phase) {
  auto job = std::make_shared<OpenJob>();
  job->slots = &slots;
  job->user_of = &user_of;
  job->resources = &resources;
  job->tally = &tally;
  std::size_t contexts = run.pool.size();
  job->by_context.resize(contexts);
  job->next.assign(contexts, 0);
  std::vector<asio::io_context*> ios;
  for (std::size_t c = 0; c < contexts; ++c) ios.push_back(&run.pool.at(c));
  for (std::size_t i = 0; i < slots.size(); ++i) {
    std::size_t c = 0;
    while (c < contexts && ios[c] != slots[i].io) ++c;
    if (c == contexts) {
      c = i % contexts;
      slots[i].io = ios[c];
    }
    job->by_context[c].push_back(i);
  }
  Group group;
  int per_context = std::max<int>(1, concurrency / static_cast<int>(contexts));
  for (std::size_t c = 0; c < contexts; ++c) {
    int workers = std::min<int>(per_context, static_cast<int>(job->by_context[c].size()));
    for (int w = 0; w < workers; ++w) group.spawn(*ios[c], open_worker(&run, job, c));
  }
  std::size_t total = slots.size();
  LoginTally* t = &tally;
  run.progress.set(phase, [t, total] {
    return std::to_string(t->ok.load()) + "/" + std::to_string(total) + " logged in, " +
           std::to_string(t->failed.load()) + " failed";
  });
  bool done = group.wait(run.deadline, run.progress);
  if (!done) run.pool.halt();
  return done;
}

bool close_all(Run& run, std::vector<Slot>& slots) {
  Group group;
  for (auto& s : slots) {
    if (s.conn) group.spawn(*s.io, close_one(s.conn));
  }
  run.progress.set("close", [] { return std::string("closing connections"); });
  bool done = group.wait(run.deadline, run.progress);
  if (!done) run.pool.halt();
  for (auto& s : slots) s.conn.reset();
  return done;
}

// ---------------------------------------------------------------------------------------
// login: N logins (connect, TLS, SASL, bind, [SM]) at concurrency C, each followed by a
// clean close. Latency is measured from the TCP connect to the bind result (SM enabled).

namespace {

struct LoginJob {
  std::atomic<int> next{0};
  int count = 0;
  Clock::time_point stop_at;
  Counter attempts{0};
  LoginTally tally;
  std::mutex mu;
  std::string tls_version;
  Counter sm_enabled{0};
};

asio::awaitable<void> login_worker(Run* run, std::shared_ptr<LoginJob> job) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    int i = job->next.fetch_add(1);
    if (i >= job->count || Clock::now() >= job->stop_at) break;
    ++job->attempts;
    auto conn = std::make_shared<Connection>(executor, run->tls, run->options.target);
    std::string user = run->options.target.user(i);
    std::string resource = "login" + std::to_string(i);
    auto start = Clock::now();
    std::string err = co_await conn->login(user, resource);
    if (!err.empty()) {
      ++job->tally.failed;
      job->tally.reasons.add(err);
      continue;
    }
    job->tally.latency.add_since(start);
    ++job->tally.ok;
    if (conn->sm_enabled()) ++job->sm_enabled;
    {
      std::lock_guard lock(job->mu);
      if (job->tls_version.empty()) job->tls_version = conn->tls_version();
    }
    co_await conn->close();
  }
}

}  // namespace

Outcome run_login(Run& run) {
  const Options& o = run.options;
  Outcome out;
  auto job = std::make_shared<LoginJob>();
  job->count = o.count;
  auto start = Clock::now();
  job->stop_at = o.duration ? start + *o.duration : Clock::time_point::max();
  Group group;
  for (int w = 0; w < std::min(o.concurrency, o.count); ++w) group.spawn(run.pool.next(), login_worker(&run, job));
  LoginJob* j = job.get();
  run.progress.set("login", [j, start] {
    return std::to_string(j->tally.ok.load()) + " ok, " + std::to_string(j->tally.failed.load()) + " failed, " +
           format1(per_second(j->tally.ok.load(), Clock::now() - start)) + " logins/s";
  });
  bool done = group.wait(run.deadline, run.progress);
  auto elapsed = Clock::now() - start;
  if (!done) run.pool.halt();
  Json& r = out.results;
  r["attempts"] = job->attempts.load();
  r["ok"] = job->tally.ok.load();
  r["failures"] = job->tally.failed.load();
  r["logins_per_s"] = per_second(job->tally.ok.load(), elapsed);
  r["latency_ms"] = job->tally.latency.summary();
  r["failure_reasons"] = job->tally.reasons.summary();
  r["tls_version"] = job->tls_version;
  r["sm_enabled"] = job->sm_enabled.load();
  r["elapsed_s"] = round_to(std::chrono::duration<double>(elapsed).count(), 3);
  for (const auto& e : group.errors()) job->tally.reasons.add(e);
  out.summary = "login: " + std::to_string(job->tally.ok.load()) + "/" + std::to_string(job->attempts.load()) +
                " ok, " + format1(per_second(job->tally.ok.load(), elapsed)) + " logins/s, p50 " +
                format_ms(job->tally.latency, 0.5) + ", p99 " + format_ms(job->tally.latency, 0.99) + ", max " +
                format_ms(job->tally.latency, 1.0) + ", " + std::to_string(job->tally.failed.load()) + " failures";
  if (!done) return timed_out(std::move(out), "login");
  if (job->tally.failed.load() > 0) {
    out.status = "failed";
    out.message = std::to_string(job->tally.failed.load()) + " logins failed; most often: " + job->tally.reasons.top();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// idle: N authenticated connections held open; the server's RSS before and after.

namespace {

asio::awaitable<void> count_alive(std::shared_ptr<Connection> conn, std::shared_ptr<Counter> alive) {
  if (!conn->closed()) ++*alive;
  co_return;
}

}  // namespace

Outcome run_idle(Run& run) {
  const Options& o = run.options;
  Outcome out;
  Json& r = out.results;
  std::optional<std::uint64_t> rss_before;
  if (o.server_pid != 0) {
    rss_before = process_rss(o.server_pid);
    if (!rss_before) {
      out.status = "failed";
      out.message = "cannot read /proc/" + std::to_string(o.server_pid) + "/status";
      return out;
    }
  }
  std::vector<Slot> slots(static_cast<std::size_t>(o.count));
  std::vector<int> users(slots.size());
  std::vector<std::string> resources(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    users[i] = static_cast<int>(i);
    resources[i] = "idle" + std::to_string(i);
  }
  LoginTally tally;
  auto start = Clock::now();
  bool done = open_all(run, slots, users, resources, o.concurrency, tally, "idle: connect");
  auto connect_time = Clock::now() - start;
  r["requested"] = o.count;
  r["established"] = tally.ok.load();
  r["failures"] = tally.failed.load();
  r["login"] = tally.summary();
  r["connect_s"] = round_to(std::chrono::duration<double>(connect_time).count(), 3);
  if (!done) return timed_out(std::move(out), "connect");

  // Let the server settle (allocations after bind, deferred work), then read its RSS.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::optional<std::uint64_t> rss_after;
  if (o.server_pid != 0) rss_after = process_rss(o.server_pid);

  auto hold_until = Clock::now() + o.hold;
  run.progress.set("idle: hold", [&tally] { return std::to_string(tally.ok.load()) + " connections held"; });
  while (Clock::now() < hold_until && Clock::now() < run.deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    run.progress.tick();
  }
  auto alive = std::make_shared<Counter>(0);
  Group check;
  for (auto& s : slots) {
    if (s.conn) check.spawn(*s.io, count_alive(s.conn, alive));
  }
  if (!check.wait(run.deadline, run.progress)) {
    run.pool.halt();
    return timed_out(std::move(out), "hold");
  }
  std::optional<std::uint64_t> rss_held;
  if (o.server_pid != 0) rss_held = process_rss(o.server_pid);
  r["hold_s"] = static_cast<long long>(o.hold.count());
  r["alive_after_hold"] = alive->load();
  if (rss_before && rss_after) {
    Json mem = Json::object();
    mem["pid"] = o.server_pid;
    mem["rss_before_bytes"] = *rss_before;
    mem["rss_after_bytes"] = *rss_after;
    if (rss_held) mem["rss_after_hold_bytes"] = *rss_held;
    double growth = static_cast<double>(*rss_after) - static_cast<double>(*rss_before);
    mem["rss_growth_bytes"] = growth;
    mem["rss_per_connection_bytes"] = tally.ok.load() > 0 ? round_to(growth / static_cast<double>(tally.ok.load()), 0) : 0.0;
    r["server_memory"] = mem;
  } else {
    r["server_memory"] = "not measured (no --server-pid)";
  }
  bool closed = close_all(run, slots);
  std::string per_conn = "RSS not measured";
  if (rss_before && rss_after && tally.ok.load() > 0) {
    double growth = static_cast<double>(*rss_after) - static_cast<double>(*rss_before);
    per_conn = format1(growth / static_cast<double>(tally.ok.load()) / 1024.0) + " KiB RSS per connection";
  }
  out.summary = "idle: " + std::to_string(tally.ok.load()) + "/" + std::to_string(o.count) + " connections, " +
                std::to_string(alive->load()) + " alive after " + std::to_string(o.hold.count()) + " s, " + per_conn +
                ", login p50 " + format_ms(tally.latency, 0.5);
  if (!closed) return timed_out(std::move(out), "close");
  if (tally.failed.load() > 0 || alive->load() < tally.ok.load()) {
    out.status = "failed";
    out.message = std::to_string(tally.failed.load()) + " connections failed, " +
                  std::to_string(tally.ok.load() - alive->load()) + " dropped while idle";
    if (tally.failed.load() > 0) out.message += "; most often: " + tally.reasons.top();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// reconnect: each cycle is a full login, then (when offered) a XEP-0198 resumption of that
// session after the TCP connection was cut, then (when offered) a login whose TLS handshake
// resumes the first one's TLS session. The latencies compare against the full login.

namespace {

struct ReconnectJob {
  std::atomic<int> next{0};
  int count = 0;
  Clock::time_point stop_at;
  LoginTally full, sm, tls;
  Counter cycles{0};
  Counter tls_offered{0};   // the server gave a resumable session (id or ticket)
  Counter tls_reused{0};    // ... and took it back
  Counter sm_offered{0};    // <enabled resume='true'/>
  Counter sm_no_resume{0};  // SM offered, but without resumption
  Counter sm_enable_failed{0};
};

asio::awaitable<void> reconnect_worker(Run* run, std::shared_ptr<ReconnectJob> job) {
  auto executor = co_await asio::this_coro::executor;
  const Target& target = run->options.target;
  for (;;) {
    int i = job->next.fetch_add(1);
    if (i >= job->count || Clock::now() >= job->stop_at) break;
    ++job->cycles;
    std::string user = target.user(i);
    std::string resource = "reconnect" + std::to_string(i);

    // 1. Full login, with SM resumption enabled when offered.
    auto first = std::make_shared<Connection>(executor, run->tls, target);
    auto start = Clock::now();
    std::string err = co_await first->connect();
    if (err.empty()) err = co_await first->authenticate(user);
    if (err.empty()) err = co_await first->bind(resource);
    bool sm_ok = false;
    if (err.empty() && first->features().sm) {
      std::string sm_err = co_await first->enable_sm(true);
      if (!sm_err.empty()) {
        ++job->sm_enable_failed;
        job->sm.reasons.add("enable: " + sm_err);
      } else if (first->sm_resumable()) {
        sm_ok = true;
        ++job->sm_offered;
      } else {
        ++job->sm_no_resume;
      }
    }
    if (!err.empty()) {
      ++job->full.failed;
      job->full.reasons.add(err);
      continue;
    }
    job->full.latency.add_since(start);
    ++job->full.ok;
    TlsSession session = first->tls_session();
    if (session) ++job->tls_offered;

    // 2. XEP-0198 §5: the connection is lost; a new one resumes the stream.
    if (sm_ok) {
      std::string previd = first->sm_id();
      std::uint64_t h = first->sm_inbound();
      first->drop();
      auto second = std::make_shared<Connection>(executor, run->tls, target);
      start = Clock::now();
      err = co_await second->connect();
      if (err.empty()) err = co_await second->authenticate(user);
      if (err.empty()) err = co_await second->resume_sm(previd, h);
      if (err.empty()) {
        job->sm.latency.add_since(start);
        ++job->sm.ok;
        co_await second->close();
      } else {
        ++job->sm.failed;
        job->sm.reasons.add(err);
      }
    } else {
      co_await first->close();
    }

    // 3. A new login offering the TLS session of the first.
    if (session) {
      auto third = std::make_shared<Connection>(executor, run->tls, target);
      start = Clock::now();
      err = co_await third->connect(session);
      bool reused = third->tls_resumed();
      if (err.empty()) err = co_await third->authenticate(user);
      if (err.empty()) err = co_await third->bind(resource);
      if (err.empty()) {
        if (reused) {
          ++job->tls_reused;
          job->tls.latency.add_since(start);
          ++job->tls.ok;
        }
        co_await third->close();
      } else {
        ++job->tls.failed;
        job->tls.reasons.add(err);
      }
    }
  }
}

std::string ratio(const Latencies& a, const Latencies& b) {
  auto x = a.quantile(0.5);
  auto y = b.quantile(0.5);
  if (!x || !y || *y <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *x / *y);
  return buf;
}

}  // namespace

Outcome run_reconnect(Run& run) {
  const Options& o = run.options;
  Outcome out;
  auto job = std::make_shared<ReconnectJob>();
  job->count = o.count;
  auto start = Clock::now();
  job->stop_at = o.duration ? start + *o.duration : Clock::time_point::max();
  Group group;
  for (int w = 0; w < std::min(o.concurrency, o.count); ++w) group.spawn(run.pool.next(), reconnect_worker(&run, job));
  ReconnectJob* j = job.get();
  run.progress.set("reconnect", [j] {
    return std::to_string(j->cycles.load()) + " cycles, " + std::to_string(j->sm.ok.load()) + " 0198 resumed, " +
           std::to_string(j->tls_reused.load()) + " TLS resumed";
  });
  bool done = group.wait(run.deadline, run.progress);
  if (!done) run.pool.halt();
  for (const auto& e : group.errors()) job->full.reasons.add(e);

  Json& r = out.results;
  r["cycles"] = job->cycles.load();
  r["full_login"] = job->full.summary();

  Json tls = Json::object();
  std::string tls_status;
  if (job->tls_offered.load() == 0) {
    tls_status = "no resumption offered";
  } else if (job->tls_reused.load() == 0) {
    // E.g. an OpenSSL server with SSL_OP_NO_TICKET and no session cache: TLS 1.3 still
    // sends (stateful) tickets, which it cannot honour. For a client that is no resumption.
    tls_status = "no resumption offered (tickets issued, none accepted)";
  } else {
    tls_status = "ok";
  }
  tls["status"] = tls_status;
  tls["sessions_offered"] = job->tls_offered.load();
  tls["resumed"] = job->tls_reused.load();
  tls["login"] = job->tls.summary();
  tls["p50_ratio_to_full"] = ratio(job->tls.latency, job->full.latency);
  r["tls_resumption"] = tls;

  Json sm = Json::object();
  std::string sm_status;
  if (job->sm_offered.load() > 0) {
    sm_status = job->sm.ok.load() > 0 ? "ok" : "resumption failed";
  } else if (job->sm_no_resume.load() > 0) {
    sm_status = "stream management without resumption";
  } else if (job->sm_enable_failed.load() > 0) {
    sm_status = "enable failed";
  } else {
    sm_status = "not offered";
  }
  sm["status"] = sm_status;
  sm["enabled_with_resume"] = job->sm_offered.load();
  sm["resume"] = job->sm.summary();
  sm["p50_ratio_to_full"] = ratio(job->sm.latency, job->full.latency);
  r["sm_resumption"] = sm;

  out.summary = "reconnect: " + std::to_string(job->cycles.load()) + " cycles, full login p50 " +
                format_ms(job->full.latency, 0.5) + "; TLS resumption: " + tls_status +
                (job->tls.ok.load() > 0 ? " (p50 " + format_ms(job->tls.latency, 0.5) + ")" : std::string()) +
                "; XEP-0198 resumption: " + sm_status +
                (job->sm.ok.load() > 0 ? " (p50 " + format_ms(job->sm.latency, 0.5) + ")" : std::string());
  if (!done) return timed_out(std::move(out), "reconnect");
  if (job->full.failed.load() > 0 || job->sm.failed.load() > 0 || job->tls.failed.load() > 0) {
    out.status = "failed";
    out.message = "failures: " + std::to_string(job->full.failed.load()) + " full logins, " +
                  std::to_string(job->sm.failed.load()) + " 0198 resumptions, " +
                  std::to_string(job->tls.failed.load()) + " TLS-resumed logins";
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// register: XEP-0077 in-band registration of the bench accounts (set-up for other servers).

namespace {

struct RegisterJob {
  std::atomic<int> next{0};
  int count = 0;
  Counter created{0}, existed{0};
  Reasons failures;
};

asio::awaitable<void> register_worker(Run* run, std::shared_ptr<RegisterJob> job) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    int i = job->next.fetch_add(1);
    if (i >= job->count) break;
    auto conn = std::make_shared<Connection>(executor, run->tls, run->options.target);
    std::string err = co_await conn->connect();
    if (err.empty()) {
      std::string user = run->options.target.user(i);
      err = co_await conn->register_account(user);
    }
    if (err.empty()) {
      ++job->created;
    } else if (err == "conflict") {
      ++job->existed;
    } else {
      job->failures.add(err);
    }
    conn->drop();
  }
}

}  // namespace

Outcome run_register(Run& run) {
  const Options& o = run.options;
  Outcome out;
  auto job = std::make_shared<RegisterJob>();
  job->count = o.count;
  Group group;
  for (int w = 0; w < std::min(o.concurrency, o.count); ++w) group.spawn(run.pool.next(), register_worker(&run, job));
  RegisterJob* j = job.get();
  run.progress.set("register", [j] {
    return std::to_string(j->created.load()) + " created, " + std::to_string(j->existed.load()) + " existed, " +
           std::to_string(j->failures.total()) + " failed";
  });
  bool done = group.wait(run.deadline, run.progress);
  if (!done) run.pool.halt();
  out.results["created"] = job->created.load();
  out.results["existed"] = job->existed.load();
  out.results["failures"] = job->failures.total();
  out.results["failure_reasons"] = job->failures.summary();
  out.summary = "register: " + std::to_string(job->created.load()) + " created, " + std::to_string(job->existed.load()) +
                " existed, " + std::to_string(job->failures.total()) + " failed";
  if (!done) return timed_out(std::move(out), "register");
  if (job->failures.total() > 0) {
    std::string top = job->failures.top();
    bool unsupported = top == "service-unavailable" || top == "feature-not-implemented" || top == "not-allowed";
    out.status = unsupported && job->created.load() + job->existed.load() == 0 ? "unsupported" : "failed";
    out.message = "registration failed: " + top;
  }
  return out;
}

}  // namespace parley::bench
