#pragma once
// How a scenario runs its coroutines: a Pool of single-threaded io_contexts (connections
// are spread over them; everything a task touches lives on its own context), and Groups of
// tasks that the scenario's controller (plain code on the main thread) starts and waits
// for, phase by phase, with a deadline and a progress line per second.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "contrib/bench/stats.hpp"

namespace parley::bench {

/// `threads` io_contexts with one thread each, running until halt() or destruction.
/// Thread-safety: next() and halt() from the controller thread only.
class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// The contexts in turn (round robin).
  boost::asio::io_context& next();
  boost::asio::io_context& at(std::size_t i) { return *contexts_[i % contexts_.size()]; }
  std::size_t size() const { return contexts_.size(); }
  /// Stops every context and joins the threads; pending coroutines are destroyed with the
  /// pool. Called at the deadline, so that nothing runs while the controller reports.
  void halt();

 private:
  struct Context;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::unique_ptr<Context>> guards_;
  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
  bool halted_ = false;
};

/// Prints one progress line per second to stderr (unless quiet). The line comes from a
/// function the scenario sets per phase; it reads atomics only.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), start_(Clock::now()) {}
  void set(std::string phase, std::function<std::string()> line);
  /// Called by Group::wait about once a second.
  void tick();
  double elapsed_s() const;

 private:
  bool quiet_;
  Clock::time_point start_;
  Clock::time_point last_{};
  std::string phase_;
  std::function<std::string()> line_;
};

/// A set of tasks (coroutines) started together; the controller waits for all of them.
/// An exception escaping a task is recorded, not rethrown.
class Group {
 public:
  Group();
  /// Starts `task` on `context`.
  void spawn(boost::asio::io_context& context, boost::asio::awaitable<void> task);
  /// Blocks until every task ended (true) or `deadline` passed (false), ticking `progress`.
  bool wait(Clock::time_point deadline, Progress& progress);
  /// What escaped the tasks ("exception: ..."), one entry each.
  std::vector<std::string> errors() const;

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t running = 0;
    std::vector<std::string> errors;
  };

 private:
  std::shared_ptr<State> state_;
};

}  // namespace parley::bench
