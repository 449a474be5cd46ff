#pragma once
// The scenarios. Each is a controller on the main thread that runs phases of coroutines on
// the Pool (log in, set up, measure, close) and returns what it measured. Every phase waits
// with the run's deadline (--timeout): past it, the pool is halted and the outcome is
// "timeout" with what was measured so far.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "contrib/bench/options.hpp"
#include "contrib/bench/runner.hpp"
#include "contrib/bench/stats.hpp"

namespace boost::asio::ssl {
class context;
}

namespace parley::bench {

class Connection;

/// What every scenario gets. Outlives the scenario; `tls` and `options` outlive `pool`.
struct Run {
  const Options& options;
  boost::asio::ssl::context& tls;
  Pool& pool;
  Progress& progress;
  Clock::time_point deadline;  ///< start + --timeout
};

/// What a scenario reports.
struct Outcome {
  /// "ok": measured; "failed": measured, with failures or losses; "unsupported": the server
  /// lacks something the scenario needs (message says what); "timeout": --timeout reached.
  std::string status = "ok";
  std::string message;
  Json results = Json::object();
  std::string summary;  ///< one human line for stdout
};

Outcome run_login(Run& run);
Outcome run_idle(Run& run);
Outcome run_reconnect(Run& run);
Outcome run_register(Run& run);
Outcome run_chat(Run& run);
Outcome run_presence(Run& run);
Outcome run_mam(Run& run);

// --- shared by the scenario files

/// One connection a scenario keeps across phases, with the context it lives on.
struct Slot {
  boost::asio::io_context* io = nullptr;
  std::shared_ptr<Connection> conn;
  std::string error;  ///< why the login failed, "" if it did not
};

/// Counts of one login phase.
struct LoginTally {
  Counter ok{0};
  Counter failed{0};
  Latencies latency;
  Reasons reasons;
  Json summary() const;
};

/// Logs slots[i] in as account user_of[i] with resource resources[i], `concurrency` at a
/// time (spread over the contexts the slots were given). False at the deadline (the pool is
/// then halted).
bool open_all(Run& run, std::vector<Slot>& slots, const std::vector<int>& user_of,
              const std::vector<std::string>& resources, int concurrency, LoginTally& tally,
              const std::string& phase);

/// Closes every open connection (</stream:stream>), in parallel. False at the deadline.
bool close_all(Run& run, std::vector<Slot>& slots);

/// Marks an outcome as timed out (after a phase missed the deadline).
Outcome timed_out(Outcome o, const std::string& phase);

}  // namespace parley::bench
