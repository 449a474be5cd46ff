#include "contrib/bench/runner.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <cstdio>
#include <exception>

namespace parley::bench {

namespace asio = boost::asio;

struct Pool::Context {
  explicit Context(asio::io_context& io) : guard(io.get_executor()) {}
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

Pool::Pool(int threads) {
  for (int i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(std::make_unique<Context>(*contexts_.back()));
  }
  for (auto& c : contexts_) {
    asio::io_context* io = c.get();
    threads_.emplace_back([io] { io->run(); });
  }
}

Pool::~Pool() {
  guards_.clear();
  halt();
}

asio::io_context& Pool::next() {
  auto& c = *contexts_[next_];
  next_ = (next_ + 1) % contexts_.size();
  return c;
}

void Pool::halt() {
  if (halted_) return;
  halted_ = true;
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
}

void Progress::set(std::string phase, std::function<std::string()> line) {
  phase_ = std::move(phase);
  line_ = std::move(line);
}

double Progress::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void Progress::tick() {
  auto now = Clock::now();
  if (quiet_ || now - last_ < std::chrono::milliseconds(950)) return;
  last_ = now;
  std::string line = line_ ? line_() : std::string();
  std::fprintf(stderr, "[%6.1fs] %s: %s\n", elapsed_s(), phase_.c_str(), line.c_str());
  std::fflush(stderr);
}

namespace {

// The completion handler of a spawned task: a named type, not a capturing lambda.
struct Finished {
  std::shared_ptr<Group::State> state;
  void operator()(std::exception_ptr e) const {
    std::string what;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        what = std::string("exception: ") + ex.what();
      } catch (...) {
        what = "exception";
      }
    }
    std::lock_guard lock(state->mu);
    if (!what.empty()) state->errors.push_back(what);
    --state->running;
    state->cv.notify_all();
  }
};

}  // namespace

Group::Group() : state_(std::make_shared<State>()) {}

void Group::spawn(asio::io_context& context, asio::awaitable<void> task) {
  {
    std::lock_guard lock(state_->mu);
    ++state_->running;
  }
  asio::co_spawn(context, std::move(task), Finished{state_});
}

bool Group::wait(Clock::time_point deadline, Progress& progress) {
  std::unique_lock lock(state_->mu);
  for (;;) {
    if (state_->running == 0) {
      lock.unlock();
      progress.tick();
      return true;
    }
    auto now = Clock::now();
    if (now >= deadline) return false;
    state_->cv.wait_until(lock, std::min(deadline, now + std::chrono::seconds(1)));
    lock.unlock();
    progress.tick();
    lock.lock();
  }
}

std::vector<std::string> Group::errors() const {
  std::lock_guard lock(state_->mu);
  return state_->errors;
}

}  // namespace parley::bench
