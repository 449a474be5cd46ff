#include "server/signin_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <utility>

#include "server/log.hpp"

namespace parley::server {

namespace asio = boost::asio;

namespace {

// Free of the SigninLog: the write may finish while the server is being taken down.
asio::awaitable<void> write_batch(storage::Runner& runner, AccountStore& accounts, std::vector<Signin> rows) {
  std::size_t n = rows.size();
  auto write = [&accounts, rows = std::move(rows)] { return accounts.record_signins(rows); };
  auto r = co_await runner.execute(std::move(write));
  if (!r.ok()) log::warning("{} sign-in(s) not recorded: {}", n, r.error().message);
}

}  // namespace

SigninLog::SigninLog(asio::any_io_executor executor, storage::Runner& runner, AccountStore& accounts)
    : runner_(runner), accounts_(accounts), timer_(std::move(executor)) {}

void SigninLog::record(Signin row) {
  {
    std::lock_guard lock(mutex_);
    queued_.push_back(std::move(row));
    if (armed_) return;
    armed_ = true;
  }
  // The timer is touched on its own executor only.
  asio::post(timer_.get_executor(), [this] {
    timer_.expires_after(kFlushDelay);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) flush();
    });
  });
}

void SigninLog::flush() {
  std::vector<Signin> rows;
  {
    std::lock_guard lock(mutex_);
    rows.swap(queued_);
    armed_ = false;
  }
  if (rows.empty()) return;
  asio::co_spawn(timer_.get_executor(), write_batch(runner_, accounts_, std::move(rows)), asio::detached);
}

void SigninLog::stop() {
  std::vector<Signin> rows;
  {
    std::lock_guard lock(mutex_);
    rows.swap(queued_);
    armed_ = true;  // nothing arms the timer again
  }
  if (rows.empty()) return;
  auto r = accounts_.record_signins(rows);
  if (!r.ok()) log::warning("{} sign-in(s) not recorded at shutdown: {}", rows.size(), r.error().message);
}

}  // namespace parley::server
