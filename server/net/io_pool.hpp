#pragma once
// One io_context per thread (DESIGN.md): each connection lives on one of them for its whole
// life, so a session's handlers never run concurrently and need no strand.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace parley::server::net {

class IoPool {
 public:
  /// `threads` 0 = one per core.
  explicit IoPool(int threads);
  ~IoPool();

  /// The contexts in turn, for spreading new connections.
  boost::asio::io_context& next();
  boost::asio::io_context& first() { return *contexts_.front(); }
  std::size_t size() const { return contexts_.size(); }

  /// Starts the threads (the contexts run until stop()).
  void start();
  /// Lets the contexts finish their work and return, then joins the threads.
  void drain_and_join();
  /// Stops the contexts at once and joins.
  void stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace parley::server::net
