// The write-behind queue of the archive (mam_writer.hpp).
#include "modules/mam/mam_writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::mam {

namespace log = server::log;

constexpr auto kMaxBackoff = std::chrono::seconds(30);

std::string safe_error(const storage::Error& e) {
  std::string m = e.message.substr(0, e.message.find('\n'));
  if (m.size() > 200) m.resize(200);
  return m;
}

Writer::Writer(storage::Runner& runner, asio::any_io_executor executor, std::chrono::milliseconds flush_after)
    : runner_(runner), executor_(executor), wake_(executor), flush_after_(flush_after) {}

void Writer::start() { asio::co_spawn(executor_, run(shared_from_this()), asio::detached); }

bool Writer::push(ArchiveRow row) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || queue_.size() >= kQueueLimit) return false;
    if (queue_.empty()) oldest_ = Clock::now();
    bytes_ += row.bytes();
    queue_.push_back(std::move(row));
    ++pushed_;
    // Wake the writer for a first row (to start the flush interval) and for a full batch.
    if (sleeping_ && (queue_.size() == 1 || queue_.size() >= kBatchRows || bytes_ >= kBatchBytes)) {
      sleeping_ = false;
      wake = true;
    }
  }
  if (wake) asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
  return true;
}

void Writer::stop() {
  std::vector<ArchiveRow> rest;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    rest.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    bytes_ = 0;
  }
  asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
  for (std::size_t at = 0; at < rest.size(); at += kBatchRows) {
    auto first = rest.begin() + static_cast<std::ptrdiff_t>(at);
    auto last = rest.begin() + static_cast<std::ptrdiff_t>(std::min(at + kBatchRows, rest.size()));
    std::vector<ArchiveRow> batch(std::make_move_iterator(first), std::make_move_iterator(last));
    auto outcome = runner_.database().run([&batch](pqxx::connection& c) { return write(c, batch); });
    if (!outcome.ok()) {
      log::error("mam: {} archived messages lost at shutdown: {}", rest.size() - at, safe_error(outcome.error()));
      return;
    }
    if (outcome->refused > 0) {
      log::error("mam: the database refused {} archived messages: {}", outcome->refused, outcome->first_error);
    }
  }
}

// One batch in one transaction. A batch the database refuses as a whole (not for being
// unreachable) is retried row by row, so one bad row costs only itself.
Writer::Outcome Writer::write(pqxx::connection& c, const std::vector<ArchiveRow>& rows) {
  try {
    return {insert_rows(c, rows), 0, {}};
  } catch (const pqxx::sql_error&) {
    // Refused as a whole. (Unreachable is no sql_error: broken_connection and
    // in_doubt_error reach the caller, which retries the batch.)
  }
  Outcome out;
  for (const auto& row : rows) {
    try {
      out.written += insert_rows(c, {row});
    } catch (const pqxx::sql_error& e) {
      if (out.refused++ == 0) out.first_error = safe_error(storage::translate_exception(e));
    }
  }
  return out;
}

asio::awaitable<void> Writer::run(std::shared_ptr<Writer> self) {
  auto backoff = std::chrono::milliseconds(0);
  asio::steady_timer pause(self->executor_);
  for (;;) {
    auto batch = std::make_shared<std::vector<ArchiveRow>>();
    Clock::time_point until = Clock::time_point::max();
    {
      std::lock_guard lock(self->mutex_);
      if (self->stopped_) co_return;
      if (!self->queue_.empty() && !self->urgent_ && self->queue_.size() < kBatchRows &&
          self->bytes_ < kBatchBytes && Clock::now() < self->oldest_ + self->flush_after_) {
        until = self->oldest_ + self->flush_after_;
      }
      if (self->queue_.empty() || until != Clock::time_point::max()) {
        self->sleeping_ = true;
      } else {
        self->take(*batch);
      }
    }
    if (batch->empty()) {
      // push() cancels the wait (through a post to this executor) when there is work.
      self->wake_.expires_at(until);
      co_await self->wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    auto job = [batch](pqxx::connection& c) { return write(c, *batch); };
    auto outcome = co_await self->runner_.run(std::move(job));
    if (outcome.ok() || outcome.error().kind != storage::Error::Kind::unavailable) {
      std::lock_guard lock(self->mutex_);
      self->done_ += batch->size();
      if (self->queue_.empty()) self->urgent_ = false;
    }
    if (outcome.ok()) {
      backoff = std::chrono::milliseconds(0);
      if (outcome->refused > 0) {
        log::error("mam: the database refused {} archived messages: {}", outcome->refused, outcome->first_error);
      }
      continue;
    }
    if (outcome.error().kind != storage::Error::Kind::unavailable) {
      log::error("mam: {} archived messages lost: {}", batch->size(), safe_error(outcome.error()));
      continue;
    }
    // Unreachable, or the commit's fate unknown: put the batch back in front and retry;
    // rows that did get written are skipped then (ON CONFLICT DO NOTHING).
    backoff = std::min<std::chrono::milliseconds>(kMaxBackoff, std::max(backoff * 2, std::chrono::milliseconds(500)));
    log::warning("mam: cannot write {} archived messages, retrying in {} ms: {}", batch->size(), backoff.count(),
                 safe_error(outcome.error()));
    {
      std::lock_guard lock(self->mutex_);
      for (auto& row : *batch) self->bytes_ += row.bytes();
      self->queue_.insert(self->queue_.begin(), std::make_move_iterator(batch->begin()),
                          std::make_move_iterator(batch->end()));
      self->oldest_ = Clock::now();
    }
    pause.expires_after(backoff);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::uint64_t Writer::pushed() {
  std::lock_guard lock(mutex_);
  return pushed_;
}

asio::awaitable<void> Writer::caught_up(std::uint64_t position) {
  asio::steady_timer poll(co_await asio::this_coro::executor);
  for (int i = 0; i < 400; ++i) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (done_ >= position || stopped_) co_return;
      urgent_ = true;
      if (sleeping_) {
        sleeping_ = false;
        wake = true;
      }
    }
    if (wake) asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
    poll.expires_after(std::chrono::milliseconds(5));
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// Moves the oldest rows, up to a batch, into `out`. Called with mutex_ held.
void Writer::take(std::vector<ArchiveRow>& out) {
  std::size_t bytes = 0;
  while (!queue_.empty() && out.size() < kBatchRows && bytes < kBatchBytes) {
    bytes += queue_.front().bytes();
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  bytes_ -= bytes;
  // oldest_ stays: rows left over are at least that old and go out in the next batch.
}

}  // namespace parley::modules::mam
