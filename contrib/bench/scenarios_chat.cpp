// Scenarios about messages between users: chat, and mam (chat, then archive queries).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <ctime>
#include <set>
#include <thread>

#include "contrib/bench/connection.hpp"
#include "contrib/bench/scenarios.hpp"
#include "server/crypto.hpp"

namespace parley::bench {
namespace {

using asio::as_tuple;
using asio::use_awaitable;
namespace xml = server::xml;

constexpr std::string_view kMamNs = "urn:xmpp:mam:2";
constexpr std::string_view kRsmNs = "http://jabber.org/protocol/rsm";
constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";

// ---------------------------------------------------------------------------------------
// chat: each pair's two connections live on one context, with one task sending both ways
// within a window of unacknowledged (= not yet received) messages.

struct Direction {
  int to_send = 0;
  int sent = 0;
  int received = 0;
  int failed = 0;  // bounced with type='error'
  std::vector<char> seen;
  int in_flight() const { return sent - received - failed; }
};

struct ChatShared {
  std::string tag;  // per run, in every body: an archive may hold messages of earlier runs
  int window = 16;
  std::chrono::milliseconds grace{5000};
  Clock::time_point stop_sending_at = Clock::time_point::max();
  Counter sent{0}, delivered{0}, duplicates{0}, errors{0}, stalled{0};
  Counter sent_bare{0}, sent_full{0}, lost_bare{0}, lost_full{0};
  Counter sm_pairs{0}, sm_unacked{0};
  Counter sync_failures{0};
  Latencies latency;
  std::atomic<std::int64_t> first_send_ns{0}, last_recv_ns{0};
};

struct Pair {
  int index = 0;
  std::shared_ptr<Connection> a, b;
  Direction ab, ba;  // a -> b, b -> a
  std::unique_ptr<asio::steady_timer> signal;  // on the pair's context; wakes the sender
  bool finished = false;
};

struct ParsedBody {
  int pair = -1, dir = -1, seq = -1;
  long long sent_ns = 0;
};

std::optional<ParsedBody> parse_body(const Element& message, const std::string& tag) {
  const Element* body = message.find_child("body", xml::kClientNs);
  if (body == nullptr) return std::nullopt;
  std::string text = body->text();
  ParsedBody p;
  char t[64] = {0};
  if (std::sscanf(text.c_str(), "bench %d %d %d %lld %63s", &p.pair, &p.dir, &p.seq, &p.sent_ns, t) != 5) return std::nullopt;
  if (tag != t) return std::nullopt;
  return p;
}

// The reader's hook for both connections of a pair (runs on the pair's context).
struct ChatHandler {
  std::shared_ptr<ChatShared> sh;
  std::shared_ptr<Pair> pair;

  bool operator()(Element& e) const {
    if (e.name() == "presence") return true;  // not measured here
    if (e.name() != "message") return false;
    auto parsed = parse_body(e, sh->tag);
    if (!parsed || parsed->pair != pair->index || parsed->dir < 0 || parsed->dir > 1) {
      if (e.attr("type") == "error") ++sh->errors;
      return true;
    }
    Direction& d = parsed->dir == 0 ? pair->ab : pair->ba;
    if (parsed->seq < 0 || parsed->seq >= static_cast<int>(d.seen.size())) return true;
    if (e.attr("type") == "error") {
      ++sh->errors;
      ++d.failed;
    } else if (d.seen[parsed->seq]) {
      ++sh->duplicates;
    } else {
      d.seen[parsed->seq] = 1;
      ++d.received;
      ++sh->delivered;
      std::int64_t now = now_ns();
      sh->latency.add(static_cast<double>(now - parsed->sent_ns) / 1e6);
      std::int64_t last = sh->last_recv_ns.load();
      while (now > last && !sh->last_recv_ns.compare_exchange_weak(last, now)) {
      }
    }
    pair->signal->cancel();
    return true;
  }
};

asio::awaitable<void> chat_pair(Run* run, std::shared_ptr<ChatShared> sh, std::shared_ptr<Pair> p) {
  auto executor = co_await asio::this_coro::executor;
  const Target& target = run->options.target;
  p->signal = std::make_unique<asio::steady_timer>(executor);
  p->a->on_stanza = ChatHandler{sh, p};
  p->b->on_stanza = ChatHandler{sh, p};
  // RFC 6121 §8.5.2.1.1: a message to a bare JID goes to available resources, so both send
  // initial presence first, and an iq round trip makes sure the server has seen it.
  p->a->send("<presence/>");
  p->b->send("<presence/>");
  bool synced_a = co_await round_trip(p->a, target.domain, target.op_timeout);
  bool synced_b = co_await round_trip(p->b, target.domain, target.op_timeout);
  if (!synced_a || !synced_b) ++sh->sync_failures;

  std::string bare[2] = {bare_jid_of(p->b->jid()), bare_jid_of(p->a->jid())};  // recipients of ab, ba
  std::string full[2] = {p->b->jid(), p->a->jid()};
  Direction* dirs[2] = {&p->ab, &p->ba};
  Connection* from[2] = {p->a.get(), p->b.get()};
  for (;;) {
    bool pending = false;
    bool progressed = false;
    for (int d = 0; d < 2; ++d) {
      Direction& dir = *dirs[d];
      if (dir.sent >= dir.to_send || from[d]->closed() || Clock::now() >= sh->stop_sending_at) continue;
      pending = true;
      if (dir.in_flight() >= sh->window) continue;
      int seq = dir.sent++;
      bool to_bare = seq % 2 == 0;
      std::int64_t now = now_ns();
      std::int64_t zero = 0;
      sh->first_send_ns.compare_exchange_strong(zero, now);
      from[d]->send("<message type='chat' to='" + xml_escape(to_bare ? bare[d] : full[d]) + "' id='" + next_id() +
                    "'><body>bench " + std::to_string(p->index) + " " + std::to_string(d) + " " + std::to_string(seq) +
                    " " + std::to_string(now) + " " + sh->tag + "</body></message>");
      ++sh->sent;
      ++(to_bare ? sh->sent_bare : sh->sent_full);
      progressed = true;
    }
    if (!pending) break;
    if (!progressed) {
      p->signal->expires_after(target.op_timeout);
      auto [ec] = co_await p->signal->async_wait(as_tuple(use_awaitable));
      if (!ec) {  // no delivery for a whole op-timeout: stop this pair
        ++sh->stalled;
        break;
      }
    }
  }
  // Late messages: wait for them until the grace period ends.
  auto grace_end = Clock::now() + sh->grace;
  while ((p->ab.in_flight() > 0 || p->ba.in_flight() > 0) && Clock::now() < grace_end) {
    p->signal->expires_at(grace_end);
    co_await p->signal->async_wait(as_tuple(use_awaitable));
  }
  for (int d = 0; d < 2; ++d) {
    for (int s = 0; s < dirs[d]->sent; ++s) {
      if (!dirs[d]->seen[s]) ++(s % 2 == 0 ? sh->lost_bare : sh->lost_full);
    }
  }
  if (p->a->sm_enabled() && p->b->sm_enabled()) {
    ++sh->sm_pairs;
    auto until = Clock::now() + target.op_timeout;
    bool acked_a = co_await p->a->wait_acked(until);
    bool acked_b = co_await p->b->wait_acked(until);
    if (!acked_a) sh->sm_unacked += p->a->sm_outbound() - p->a->sm_acked();
    if (!acked_b) sh->sm_unacked += p->b->sm_outbound() - p->b->sm_acked();
  }
  p->finished = true;
}

struct ChatPhase {
  std::shared_ptr<ChatShared> shared = std::make_shared<ChatShared>();
  std::vector<std::shared_ptr<Pair>> pairs;
  std::vector<Slot> slots;
  LoginTally login;
  Clock::time_point started, ended;
};

// Logs the pairs in and runs the exchange. False at the deadline (the pool is halted).
bool chat_phase(Run& run, ChatPhase& phase, Outcome& out) {
  const Options& o = run.options;
  auto& sh = phase.shared;
  sh->tag = server::crypto::hex(server::crypto::random_bytes(6));
  sh->window = o.window;
  sh->grace = o.grace;
  phase.slots.resize(static_cast<std::size_t>(2 * o.pairs));
  std::vector<int> users(phase.slots.size());
  std::vector<std::string> resources(phase.slots.size());
  for (std::size_t i = 0; i < phase.slots.size(); ++i) {
    phase.slots[i].io = &run.pool.at(i / 2);  // a pair shares one context
    users[i] = static_cast<int>(i);
    resources[i] = "chat" + std::to_string(i);
  }
  if (!open_all(run, phase.slots, users, resources, o.concurrency, phase.login, "chat: login")) return false;
  out.results["login"] = phase.login.summary();
  auto& sh_ref = *sh;
  phase.started = Clock::now();
  if (o.duration) sh->stop_sending_at = phase.started + *o.duration;
  Group group;
  for (int p = 0; p < o.pairs; ++p) {
    auto& a = phase.slots[2 * p];
    auto& b = phase.slots[2 * p + 1];
    if (!a.conn || !b.conn) continue;
    auto pair = std::make_shared<Pair>();
    pair->index = p;
    pair->a = a.conn;
    pair->b = b.conn;
    pair->ab.to_send = (o.messages + 1) / 2;
    pair->ba.to_send = o.messages / 2;
    pair->ab.seen.assign(pair->ab.to_send, 0);
    pair->ba.seen.assign(pair->ba.to_send, 0);
    phase.pairs.push_back(pair);
    group.spawn(*a.io, chat_pair(&run, sh, pair));
  }
  auto start = phase.started;
  run.progress.set("chat", [&sh_ref, start] {
    return std::to_string(sh_ref.sent.load()) + " sent, " + std::to_string(sh_ref.delivered.load()) + " delivered, " +
           format1(per_second(sh_ref.delivered.load(), Clock::now() - start)) + " msg/s";
  });
  bool done = group.wait(run.deadline, run.progress);
  phase.ended = Clock::now();
  if (!done) run.pool.halt();
  return done;
}

// Fills results from a chat phase; returns the number of messages lost.
// Called once the exchange ended or the pool was halted: no thread touches the pairs then.
std::uint64_t chat_results(const Run& run, const ChatPhase& phase, Outcome& out) {
  const Options& o = run.options;
  const ChatShared& sh = *phase.shared;
  std::uint64_t sent = 0, received = 0, failed = 0;
  for (const auto& p : phase.pairs) {
    sent += p->ab.sent + p->ba.sent;
    received += p->ab.received + p->ba.received;
    failed += p->ab.failed + p->ba.failed;
  }
  std::uint64_t lost = sent - std::min(sent, received);
  Json& r = out.results;
  r["pairs"] = o.pairs;
  r["pairs_logged_in"] = phase.pairs.size();
  r["messages_per_pair"] = o.messages;
  r["window"] = o.window;
  r["sent"] = sent;
  r["sent_to_bare"] = sh.sent_bare.load();
  r["sent_to_full"] = sh.sent_full.load();
  r["delivered"] = received;
  r["lost"] = lost;
  r["lost_to_bare"] = sh.lost_bare.load();
  r["lost_to_full"] = sh.lost_full.load();
  r["bounced"] = failed;
  r["errors"] = sh.errors.load();
  r["duplicates"] = sh.duplicates.load();
  r["stalled_pairs"] = sh.stalled.load();
  r["presence_sync_failures"] = sh.sync_failures.load();
  std::int64_t first = sh.first_send_ns.load(), last = sh.last_recv_ns.load();
  double span = last > first ? static_cast<double>(last - first) / 1e9 : 0;
  r["delivered_per_s"] = span > 0 ? round_to(static_cast<double>(received) / span, 1) : 0.0;
  r["exchange_s"] = round_to(span, 3);
  r["grace_s"] = round_to(static_cast<double>(o.grace.count()) / 1000.0, 3);
  r["latency_ms"] = sh.latency.summary();
  Json sm = Json::object();
  if (!o.target.sm) {
    sm["status"] = "not requested";
  } else if (sh.sm_pairs.load() == 0) {
    sm["status"] = "not offered";
  } else {
    sm["status"] = "enabled";
    sm["pairs"] = sh.sm_pairs.load();
    sm["unacked"] = sh.sm_unacked.load();
  }
  r["sm"] = sm;
  out.summary = "chat: " + std::to_string(received) + "/" + std::to_string(sent) + " delivered, " +
                format1(span > 0 ? static_cast<double>(received) / span : 0) + " msg/s, latency p50 " +
                format_ms(sh.latency, 0.5) + ", p99 " + format_ms(sh.latency, 0.99) + ", lost " + std::to_string(lost);
  return lost;
}

}  // namespace

Outcome run_chat(Run& run) {
  Outcome out;
  ChatPhase phase;
  bool done = chat_phase(run, phase, out);
  std::uint64_t lost = chat_results(run, phase, out);
  if (!done) return timed_out(std::move(out), "chat");
  if (!close_all(run, phase.slots)) return timed_out(std::move(out), "close");
  const ChatShared& sh = *phase.shared;
  if (phase.login.failed.load() > 0) {
    out.status = "failed";
    out.message = std::to_string(phase.login.failed.load()) + " logins failed; most often: " + phase.login.reasons.top();
  } else if (lost > 0 || sh.errors.load() > 0 || sh.stalled.load() > 0) {
    out.status = "failed";
    out.message = std::to_string(lost) + " messages lost, " + std::to_string(sh.errors.load()) + " errors, " +
                  std::to_string(sh.stalled.load()) + " stalled pairs";
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// mam: the chat exchange, then every account pages through its archive with the peer
// (XEP-0313 with RSM paging, XEP-0059), filtered by peer and start time.

namespace {

std::string iso_utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct MamShared {
  std::string start;  // ISO 8601
  int page_size = 50;
  Latencies page_latency, query_latency;
  Counter queries{0}, pages{0}, found{0}, expected{0}, extra{0};
  Reasons failures;
  Counter unsupported{0};
};

std::string mam_query(const std::string& id, const std::string& queryid, const std::string& with,
                      const std::string& start, int max, const std::string& after) {
  std::string q = "<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2' queryid='" + queryid +
                  "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>";
  if (!with.empty()) q += "<field var='with'><value>" + xml_escape(with) + "</value></field>";
  if (!start.empty()) q += "<field var='start'><value>" + start + "</value></field>";
  q += "</x><set xmlns='http://jabber.org/protocol/rsm'><max>" + std::to_string(max) + "</max>";
  if (!after.empty()) q += "<after>" + xml_escape(after) + "</after>";
  return q + "</set></query></iq>";
}

// A first, small query: does the server answer XEP-0313 at all?
asio::awaitable<void> mam_probe(Run* run, std::shared_ptr<Connection> conn, std::shared_ptr<MamShared> sh) {
  std::string id = next_id();
  std::string query = mam_query(id, next_id(), "", sh->start, 1, "");
  auto r = co_await conn->iq(std::move(query), id, Clock::now() + run->options.target.op_timeout);
  if (!r) {
    sh->failures.add("probe: no answer to a XEP-0313 query");
    ++sh->unsupported;
  } else if (r->attr("type") == "error") {
    sh->failures.add("XEP-0313 query answered " + error_condition(*r));
    ++sh->unsupported;
  }
  // Drop the probe's results, if any.
  for (;;) {
    auto e = co_await conn->receive(Clock::now());
    if (!e) break;
  }
}

asio::awaitable<void> mam_account(Run* run, std::shared_ptr<ChatShared> chat, std::shared_ptr<MamShared> sh,
                                  std::shared_ptr<Pair> p, bool side_a) {
  std::shared_ptr<Connection> conn = side_a ? p->a : p->b;
  std::shared_ptr<Connection> peer = side_a ? p->b : p->a;
  conn->on_stanza = nullptr;  // the results must reach the inbox
  std::string with = bare_jid_of(peer->jid());
  // What this account's archive must hold of this run: what it sent and what it received.
  const Direction& out_dir = side_a ? p->ab : p->ba;
  const Direction& in_dir = side_a ? p->ba : p->ab;
  std::uint64_t expected = static_cast<std::uint64_t>(out_dir.sent + in_dir.received);
  std::set<std::pair<int, int>> found;
  std::string after;
  auto query_start = Clock::now();
  bool complete = false;
  for (int page = 0; page < 100000; ++page) {
    std::string id = next_id();
    std::string queryid = next_id();
    std::string query = mam_query(id, queryid, with, sh->start, sh->page_size, after);
    auto t0 = Clock::now();
    ++sh->pages;
    auto r = co_await conn->iq(std::move(query), id, Clock::now() + run->options.target.op_timeout);
    if (!r) {
      sh->failures.add("query timed out");
      break;
    }
    if (r->attr("type") == "error") {
      sh->failures.add("query answered " + error_condition(*r));
      break;
    }
    sh->page_latency.add_since(t0);
    for (;;) {
      auto e = co_await conn->receive(Clock::now());
      if (!e) break;
      const Element* res = e->name() == "message" ? e->find_child("result", kMamNs) : nullptr;
      if (res == nullptr || res->attr("queryid") != queryid) continue;
      const Element* fwd = res->find_child("forwarded", kForwardNs);
      const Element* msg = fwd ? fwd->find_child("message", xml::kClientNs) : nullptr;
      auto parsed = msg ? parse_body(*msg, chat->tag) : std::nullopt;
      if (parsed && parsed->pair == p->index) {
        found.insert({parsed->dir, parsed->seq});
      } else {
        ++sh->extra;
      }
    }
    const Element* fin = r->find_child("fin", kMamNs);
    if (fin == nullptr) {
      sh->failures.add("result without <fin/>");
      break;
    }
    complete = fin->attr("complete") == "true" || fin->attr("complete") == "1";
    const Element* set = fin->find_child("set", kRsmNs);
    const Element* last = set ? set->find_child("last", kRsmNs) : nullptr;
    if (complete || last == nullptr || last->text().empty()) break;
    after = last->text();
  }
  sh->query_latency.add_since(query_start);
  ++sh->queries;
  sh->found += std::min<std::uint64_t>(found.size(), expected);
  sh->expected += expected;
}

}  // namespace

Outcome run_mam(Run& run) {
  const Options& o = run.options;
  Outcome out;
  auto sh = std::make_shared<MamShared>();
  sh->page_size = o.page_size;
  sh->start = iso_utc(std::chrono::system_clock::now() - std::chrono::seconds(1));
  ChatPhase phase;
  // Probe with one account before the exchange, so that an unsupported server is reported
  // at once.
  {
    std::vector<Slot> probe(1);
    std::vector<int> users{0};
    std::vector<std::string> resources{"mam-probe"};
    LoginTally tally;
    if (!open_all(run, probe, users, resources, 1, tally, "mam: probe login")) return timed_out(std::move(out), "probe");
    if (!probe[0].conn) {
      out.status = "failed";
      out.message = "login failed: " + probe[0].error;
      out.summary = "mam: " + out.message;
      return out;
    }
    Group g;
    g.spawn(*probe[0].io, mam_probe(&run, probe[0].conn, sh));
    if (!g.wait(run.deadline, run.progress)) {
      run.pool.halt();
      return timed_out(std::move(out), "probe");
    }
    close_all(run, probe);
    if (sh->unsupported.load() > 0) {
      out.status = "unsupported";
      out.message = "the server does not support XEP-0313 message archive management: " + sh->failures.top();
      out.results["mam"] = out.message;
      out.summary = "mam: unsupported (" + sh->failures.top() + ")";
      return out;
    }
  }
  bool done = chat_phase(run, phase, out);
  std::uint64_t lost = chat_results(run, phase, out);
  std::string chat_summary = out.summary;
  if (!done) return timed_out(std::move(out), "archive-heavy chat");
  Json chat = Json::object();
  for (const char* k : {"sent", "delivered", "lost", "delivered_per_s", "latency_ms"}) chat[k] = out.results[k];
  out.results = Json::object();
  out.results["chat"] = chat;
  out.results["login"] = phase.login.summary();

  // Archives are written asynchronously by some servers: give them a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Group group;
  for (const auto& p : phase.pairs) {
    group.spawn(*phase.slots[2 * p->index].io, mam_account(&run, phase.shared, sh, p, true));
    group.spawn(*phase.slots[2 * p->index].io, mam_account(&run, phase.shared, sh, p, false));
  }
  MamShared* s = sh.get();
  run.progress.set("mam: queries", [s] {
    return std::to_string(s->queries.load()) + " queries, " + std::to_string(s->pages.load()) + " pages, " +
           std::to_string(s->found.load()) + " messages";
  });
  auto qstart = Clock::now();
  bool queried = group.wait(run.deadline, run.progress);
  auto qtime = Clock::now() - qstart;
  if (!queried) run.pool.halt();
  Json& r = out.results;
  r["page_size"] = o.page_size;
  r["queries"] = sh->queries.load();
  r["pages"] = sh->pages.load();
  r["expected"] = sh->expected.load();
  r["found"] = sh->found.load();
  r["missing"] = sh->expected.load() - std::min(sh->expected.load(), sh->found.load());  // see below
  r["other_results"] = sh->extra.load();
  r["page_latency_ms"] = sh->page_latency.summary();
  r["query_latency_ms"] = sh->query_latency.summary();
  r["messages_retrieved_per_s"] = per_second(sh->found.load(), qtime);
  r["failure_reasons"] = sh->failures.summary();
  std::uint64_t missing = sh->expected.load() - std::min(sh->expected.load(), sh->found.load());
  out.summary = "mam: " + std::to_string(sh->queries.load()) + " queries, " + std::to_string(sh->pages.load()) +
                " pages, page p50 " + format_ms(sh->page_latency, 0.5) + ", p99 " + format_ms(sh->page_latency, 0.99) + ", " +
                std::to_string(sh->found.load()) + "/" + std::to_string(sh->expected.load()) + " archived messages found (" +
                chat_summary + ")";
  if (!queried) return timed_out(std::move(out), "mam queries");
  if (!close_all(run, phase.slots)) return timed_out(std::move(out), "close");
  if (sh->failures.total() > 0) {
    out.status = "failed";
    out.message = "queries failed: " + sh->failures.top();
  } else if (missing > 0 || lost > 0) {
    out.status = "failed";
    out.message = std::to_string(missing) + " messages missing from archives, " + std::to_string(lost) + " lost in chat";
  }
  return out;
}

}  // namespace parley::bench
