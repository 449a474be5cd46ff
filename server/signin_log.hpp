#pragma once
// Sign-in rows (the signins table), written in batches beside the logins.
//
// A login does not wait for its row, and since a row is only read later (signin_notice, an
// operator's audit), rows are gathered for up to kFlushDelay and written by one statement:
// under load that is one database round trip per batch instead of one per login
// (docs/profiling.md, fourth round). Each row keeps the time of its login. stop() writes
// what is left, so a graceful shutdown loses none; a crash loses at most the last delay's
// rows, never anything a user sent.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <vector>

#include "server/accounts.hpp"
#include "storage/runner.hpp"

namespace parley::server {

class SigninLog {
 public:
  static constexpr std::chrono::milliseconds kFlushDelay{100};

  /// Timers run on `executor`; the writes on `runner`'s threads.
  SigninLog(boost::asio::any_io_executor executor, storage::Runner& runner, AccountStore& accounts);
  SigninLog(const SigninLog&) = delete;
  SigninLog& operator=(const SigninLog&) = delete;

  /// Queues a row; it is written within kFlushDelay (plus the write itself). Any thread.
  void record(Signin row);

  /// Writes the queued rows on the calling thread (blocking) and drops the timer's turn.
  /// For shutdown, once the network threads have stopped.
  void stop();

 private:
  void flush();

  storage::Runner& runner_;
  AccountStore& accounts_;
  boost::asio::steady_timer timer_;
  std::mutex mutex_;
  std::vector<Signin> queued_;  // guarded by mutex_
  bool armed_ = false;          // guarded by mutex_: a flush is due
};

}  // namespace parley::server
