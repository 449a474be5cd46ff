#include "server/account_events.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <pqxx/pqxx>

#include "server/log.hpp"

namespace parley::server {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::function<void(std::string_view)> on_notice)
      : pqxx::notification_receiver(c, AccountStore::kNotifyChannel), on_notice_(std::move(on_notice)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override { on_notice_(payload); }

 private:
  std::function<void(std::string_view)> on_notice_;
};

}  // namespace

// How long the listening connection may be quiet before a query checks that the server is
// still there (on TCP, keepalives usually notice first).
constexpr std::chrono::seconds kQuietCheck{30};

AccountEvents::AccountEvents(router::Router& router, AccountStore& accounts, const storage::Database& db)
    : router_(router),
      accounts_(accounts),
      conninfo_(db.connect_conninfo()),
      query_timeout_(db.options().query_timeout) {}

AccountEvents::~AccountEvents() {
  stop();
  // The server has joined its storage threads by now (Server::stop), so nothing is calling
  // the observer; the store outlives this object.
  accounts_.set_observer(nullptr);
}

void AccountEvents::start() {
  {
    std::unique_lock lock(firing_);
    enabled_ = true;
  }
  accounts_.set_observer([this](const Jid& account, AccountStore::Change change) { fire(account, change); });
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    log::warning("account events: no pipe ({}); changes by other processes are not heard",
                 std::strerror(errno));
    return;
  }
  // Serving starts once the LISTEN is in place (or the first attempt failed), so that a
  // change made right after "ready" is heard.
  auto first = listening_.get_future();
  thread_ = std::thread([this] { listen_loop(); });
  first.wait_for(std::chrono::seconds(10));
}

void AccountEvents::stop() {
  {
    std::unique_lock lock(firing_);
    enabled_ = false;
  }
  stopping_ = true;
  if (wake_[1] >= 0) {
    char c = 0;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int& fd : wake_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  // The observer stays set but fires nothing any more (enabled_ is false): clearing it here
  // could race with a storage thread that is calling it.
}

void AccountEvents::fire(const Jid& account, AccountStore::Change change) {
  std::shared_lock lock(firing_);
  if (!enabled_) return;
  router_.user_event(change == AccountStore::Change::created ? router::Family::user_created
                                                             : router::Family::user_deleted,
                     account);
}

bool AccountEvents::parse(std::string_view payload, AccountStore::Change& change, std::string& jid,
                          std::string& origin) {
  auto first = payload.find(' ');
  if (first == std::string_view::npos) return false;
  auto second = payload.find(' ', first + 1);
  if (second == std::string_view::npos || payload.find(' ', second + 1) != std::string_view::npos) return false;
  std::string_view what = payload.substr(0, first);
  if (what == "created") {
    change = AccountStore::Change::created;
  } else if (what == "deleted") {
    change = AccountStore::Change::deleted;
  } else {
    return false;
  }
  jid = std::string(payload.substr(first + 1, second - first - 1));
  origin = std::string(payload.substr(second + 1));
  return !jid.empty() && !origin.empty();
}

void AccountEvents::on_notice(std::string_view payload) {
  AccountStore::Change change{};
  std::string text, origin;
  if (!parse(payload, change, text, origin)) {
    log::warning("account events: ignoring a malformed notice on {}", AccountStore::kNotifyChannel);
    return;
  }
  if (origin == accounts_.origin()) return;  // fired already, synchronously
  auto jid = Jid::parse(text);
  if (!jid || !jid->has_local() || !jid->is_bare()) {
    log::warning("account events: ignoring a notice about '{}', not an account", text);
    return;
  }
  fire(*jid, change);
  if (change == AccountStore::Change::deleted) router_.sessions().end_deleted_account(*jid);
  // After the handlers ran (tests wait for this line).
  log::info("account {} was {} by another process", jid->str(),
            change == AccountStore::Change::created ? "created" : "deleted");
}

void AccountEvents::first_attempt_done() {
  if (!told_) {
    told_ = true;
    listening_.set_value();
  }
}

// One connection that LISTENs; on failure, a new one after a pause (storage::RetryPause).
void AccountEvents::listen_loop() {
  storage::RetryPause pauses;
  bool warned = false;
  while (!stopping_) {
    try {
      pqxx::connection c(conninfo_);  // bounded by connect_timeout
      // The liveness check below is bounded on the server as the pool's queries are.
      c.set_variable("statement_timeout", std::to_string(query_timeout_.count()));
      Receiver receiver(c, [this](std::string_view payload) { on_notice(payload); });
      c.get_notifs();  // issues the LISTEN
      first_attempt_done();
      if (warned) log::info("account events: listening again for account changes by other processes");
      pauses.reset();
      warned = false;
      while (!stopping_) {
        pollfd fds[2] = {{c.sock(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
        int n = ::poll(fds, 2, static_cast<int>(std::chrono::milliseconds(kQuietCheck).count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        if (fds[1].revents != 0) break;
        if (n == 0) {
          // Quiet for a while: a round trip proves the server is there (a vanished one makes
          // it fail within tcp_user_timeout or statement_timeout).
          pqxx::nontransaction check{c};
          check.exec("SELECT 1");
        } else if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
          throw pqxx::broken_connection("connection lost");
        }
        c.get_notifs();
      }
    } catch (const std::exception& e) {
      first_attempt_done();
      if (!warned) {
        log::warning("account events: cannot listen for account changes by other processes ({}); retrying",
                     e.what());
        warned = true;
      }
      pollfd wake{wake_[0], POLLIN, 0};
      if (::poll(&wake, 1, static_cast<int>(pauses.next().count())) > 0) break;
    }
  }
}

}  // namespace parley::server
