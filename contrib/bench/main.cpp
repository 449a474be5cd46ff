// parley-bench: a bounded XMPP load generator. See contrib/bench/README.md.
#include <signal.h>
#include <sys/resource.h>

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "contrib/bench/connection.hpp"
#include "contrib/bench/options.hpp"
#include "contrib/bench/runner.hpp"
#include "contrib/bench/scenarios.hpp"

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "unknown"
#endif

namespace parley::bench {
namespace {

// Thousands of connections need thousands of descriptors: take what the hard limit allows.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json describe_target(const Options& o) {
  const Target& t = o.target;
  Json j = Json::object();
  j["host"] = t.host;
  j["port"] = static_cast<int>(t.port);
  j["domain"] = t.domain;
  j["tls"] = t.direct_tls ? "direct (XEP-0368)" : "starttls";
  j["verify"] = t.insecure ? "insecure: certificate NOT verified"
                           : (t.ca_file.empty() ? std::string("system trust store") : "ca-file " + t.ca_file);
  j["mechanism"] = t.mechanism;
  j["sm_requested"] = t.sm;
  j["scram_cache"] = t.scram_cache != nullptr;
  j["user_prefix"] = t.user_prefix;
  j["users"] = t.users;
  return j;
}

Json describe_params(const Options& o) {
  Json j = Json::object();
  j["count"] = o.count;
  j["concurrency"] = o.concurrency;
  j["threads"] = o.threads;
  j["timeout_s"] = static_cast<long long>(o.timeout.count());
  j["op_timeout_s"] = round_to(static_cast<double>(o.target.op_timeout.count()) / 1000.0, 3);
  j["duration_s"] = o.duration ? Json(static_cast<long long>(o.duration->count())) : Json();
  if (o.scenario == "chat" || o.scenario == "mam") {
    j["pairs"] = o.pairs;
    j["messages"] = o.messages;
    j["window"] = o.window;
  }
  if (o.scenario == "chat" || o.scenario == "presence") j["grace_s"] = round_to(o.grace.count() / 1000.0, 3);
  if (o.scenario == "presence") {
    j["accounts"] = o.accounts;
    j["contacts"] = o.contacts;
    j["rounds"] = o.rounds;
  }
  if (o.scenario == "mam") j["page_size"] = o.page_size;
  if (o.scenario == "idle") j["hold_s"] = static_cast<long long>(o.hold.count());
  return j;
}

int exit_code(const std::string& status) {
  if (status == "ok") return 0;
  if (status == "unsupported") return 3;
  if (status == "timeout") return 4;
  return 1;
}

int run_main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (!o.allow_remote && !is_loopback_host(o.target.host)) {
      throw UsageError{"--host " + o.target.host +
                       " is not a loopback address; a load generator aimed elsewhere needs --allow-remote"};
    }
  } catch (const UsageError& e) {
    if (e.message.empty()) {
      std::cout << usage();
      return 0;
    }
    std::cerr << "parley-bench: " << e.message << "\n\n" << usage();
    return 2;
  }
  if (o.target.insecure) {
    std::cerr << "parley-bench: WARNING: --insecure: the server's certificate is NOT verified; "
                 "figures are valid, the connection is not authenticated\n";
  }
  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  std::shared_ptr<boost::asio::ssl::context> tls;
  try {
    tls = make_tls_context(o.target);
  } catch (const std::exception& e) {
    std::cerr << "parley-bench: " << e.what() << '\n';
    return 2;
  }

  auto started = Clock::now();
  std::string started_at = now_iso();
  Progress progress(o.quiet);
  std::optional<std::uint64_t> rss_before;
  if (o.server_pid != 0) rss_before = process_rss(o.server_pid);
  Outcome outcome;
  {
    Pool pool(o.threads);
    Run run{o, *tls, pool, progress, started + o.timeout};
    try {
      if (o.scenario == "login") outcome = run_login(run);
      else if (o.scenario == "idle") outcome = run_idle(run);
      else if (o.scenario == "chat") outcome = run_chat(run);
      else if (o.scenario == "presence") outcome = run_presence(run);
      else if (o.scenario == "mam") outcome = run_mam(run);
      else if (o.scenario == "reconnect") outcome = run_reconnect(run);
      else outcome = run_register(run);
    } catch (const std::exception& e) {
      pool.halt();
      outcome.status = "failed";
      outcome.message = std::string("internal error: ") + e.what();
      outcome.summary = o.scenario + ": " + outcome.message;
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  Json report = Json::object();
  report["tool"] = "parley-bench";
  report["version"] = PARLEY_VERSION;
  report["scenario"] = o.scenario;
  report["status"] = outcome.status;
  report["message"] = outcome.message;
  report["started_at"] = started_at;
  report["elapsed_s"] = round_to(elapsed, 3);
  report["target"] = describe_target(o);
  report["params"] = describe_params(o);
  if (o.server_pid != 0) {
    Json mem = Json::object();
    mem["pid"] = o.server_pid;
    mem["rss_start_bytes"] = rss_before ? Json(*rss_before) : Json();
    auto rss_end = process_rss(o.server_pid);
    mem["rss_end_bytes"] = rss_end ? Json(*rss_end) : Json();
    report["server"] = mem;
  }
  report["results"] = outcome.results;
  if (!o.json_file.empty()) {
    std::ofstream f(o.json_file);
    f << report.dump() << '\n';
    if (!f) std::cerr << "parley-bench: cannot write " << o.json_file << '\n';
  }
  std::string line = outcome.summary.empty() ? o.scenario : outcome.summary;
  if (outcome.status != "ok") line += " [" + outcome.status + (outcome.message.empty() ? "" : ": " + outcome.message) + "]";
  std::cout << line << std::endl;
  return exit_code(outcome.status);
}

}  // namespace
}  // namespace parley::bench

int main(int argc, char** argv) { return parley::bench::run_main(argc, argv); }
