#pragma once
// The archive's write-behind queue (README.md, "Durability"): message handlers push rows
// from any thread and go on delivering; one coroutine per host writes them in batches of up
// to 256 rows / 1 MiB, one transaction each, as soon as the oldest queued row is
// flush_interval_ms old or a batch is full. While the database is unreachable the batch is
// kept and retried with a growing pause; rows wait in memory up to kQueueLimit.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "modules/mam/mam_store.hpp"
#include "storage/result.hpp"

namespace parley::storage {
class Runner;
}

namespace parley::modules::mam {

/// The first line of a storage error, without the DETAIL PostgreSQL adds: that can quote a
/// whole failing row, message body included, and bodies never go to the log.
std::string safe_error(const storage::Error& e);

/// Thread-safe. Owned jointly by the module and its coroutine (start()), so neither outlives
/// what it uses; the coroutine runs on `executor` (one thread), the only place `wake_` is used.
class Writer : public std::enable_shared_from_this<Writer> {
 public:
  static constexpr std::size_t kBatchRows = 256;
  static constexpr std::size_t kBatchBytes = 1 << 20;
  /// Rows that may wait for the database; beyond that push() refuses.
  static constexpr std::size_t kQueueLimit = 100000;

  Writer(storage::Runner& runner, boost::asio::any_io_executor executor, std::chrono::milliseconds flush_after);

  /// Spawns the writer coroutine.
  void start();
  /// Queues a row; false when the queue is full or the writer stopped (the message is then
  /// not archived).
  bool push(ArchiveRow row);
  /// Writes what is queued on the calling thread and ends the writer. For Module::stop at
  /// shutdown: the network threads have stopped, the storage pool is still there.
  void stop();

  /// How many rows have been queued so far (a position in the queue).
  std::uint64_t pushed();
  /// Waits (at most about 2 s) until every row up to `position` has been written or given
  /// up on, asking the writer to flush now instead of after flush_interval_ms. Queries call
  /// it first, so a client always finds what it has just sent or received.
  boost::asio::awaitable<void> caught_up(std::uint64_t position);

 private:
  using Clock = std::chrono::steady_clock;
  struct Outcome {
    std::size_t written = 0;
    std::size_t refused = 0;
    std::string first_error;  // of the refused rows, for the log
  };

  static Outcome write(pqxx::connection& c, const std::vector<ArchiveRow>& rows);
  static boost::asio::awaitable<void> run(std::shared_ptr<Writer> self);
  void take(std::vector<ArchiveRow>& out);

  storage::Runner& runner_;
  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer wake_;
  const std::chrono::milliseconds flush_after_;
  std::mutex mutex_;
  std::deque<ArchiveRow> queue_;
  std::size_t bytes_ = 0;
  Clock::time_point oldest_;
  bool sleeping_ = false;  // the coroutine waits on wake_ and wants a cancel for a new batch
  bool urgent_ = false;    // a query waits: write without waiting for the flush interval
  std::uint64_t pushed_ = 0;  // rows queued so far
  std::uint64_t done_ = 0;    // rows written or given up on so far (they leave in order)
  bool stopped_ = false;
};

}  // namespace parley::modules::mam
