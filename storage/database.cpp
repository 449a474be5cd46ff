#include "storage/database.hpp"

#include <poll.h>

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <random>
#include <set>

namespace parley::storage {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstRetry{100};

thread_local std::optional<Deadline> t_deadline;

std::string first_line(std::string_view s) {
  auto end = s.find('\n');
  std::string line(s.substr(0, end));
  if (line.size() > 200) line.resize(200);
  return line;
}

// SQLSTATE classes that mean the connection is gone or the server is going away:
// 08 connection exception, 57P operator intervention (admin_shutdown, crash_shutdown,
// cannot_connect_now, database_dropped), 57014 query_canceled (statement_timeout).
bool unavailable_state(const std::string& state) {
  return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state == "57014";
}

// The keys `conninfo` sets, as libpq reads it (key=value with or without spaces around the
// '=', quoted values, or a URI with ?key=value parameters); empty if it does not parse.
std::set<std::string> keys_set(const std::string& conninfo) {
  std::set<std::string> keys;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return keys;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) keys.insert(o->keyword);
  }
  PQconninfoFree(options);
  return keys;
}

// The pool's timeouts as libpq parameters, unless the operator's conninfo sets them already.
// keepalives and tcp_user_timeout only matter on TCP (libpq ignores them on unix sockets):
// they bound how long a query waits for a server that vanished without closing the socket.
std::string with_timeouts(const std::string& conninfo, const PoolOptions& o) {
  auto seconds = [](auto d) { return std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(d).count()); };
  std::vector<std::pair<std::string, std::string>> params{
      {"connect_timeout", std::to_string(std::max<long long>(2, o.connect_timeout.count()))},
      {"tcp_user_timeout", std::to_string(o.query_timeout.count())},
      {"keepalives_idle", std::to_string(seconds(o.query_timeout / 2))},
      {"keepalives_interval", std::to_string(seconds(o.query_timeout / 6))},
      {"keepalives_count", "3"},
  };
  bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  auto given = keys_set(conninfo);
  std::string out = conninfo;
  for (const auto& [key, value] : params) {
    if (given.count(key) != 0) continue;
    if (uri) {
      out += (out.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
    } else {
      out += " " + key + "=" + value;
    }
  }
  return out;
}

// An idle connection has nothing to read: if its socket is readable (or hung up), the server
// sent something unasked, which in practice is the FATAL message of a server that is
// stopping or restarting (or terminated this backend) before it closes the connection. Such
// a connection is replaced; at worst a harmless message costs one reconnect.
bool looks_alive(const pqxx::connection& c) {
  if (!c.is_open()) return false;
  int fd = c.sock();
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> spread(d.count() * 3 / 4, d.count() * 5 / 4);
  return std::chrono::milliseconds(spread(rng));
}

}  // namespace

Error translate_exception(const std::exception& e) {
  if (dynamic_cast<const Unavailable*>(&e) != nullptr) return unavailable(e.what());
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return unavailable(std::string("database unavailable: ") + first_line(e.what()));
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) return conflict(e.what());
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return unavailable(std::string("database connection lost during commit: ") + first_line(e.what()));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr && unavailable_state(sql->sqlstate())) {
    return unavailable(std::string("database unavailable: ") + first_line(e.what()));
  }
  return internal_error(e.what());
}

bool connect_rejected(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) == nullptr) return false;
  // The server's FATAL messages for these (PostgreSQL's auth.c and postinit.c), and libpq's
  // own when the server asks for a password that the conninfo does not give.
  static constexpr std::array<std::string_view, 6> kFinal = {
      "authentication failed",  "no pg_hba.conf entry", "does not exist",
      "no password supplied",   "is not permitted to log in", "permission denied for database",
  };
  std::string_view what = e.what();
  return std::any_of(kFinal.begin(), kFinal.end(), [&](std::string_view m) { return what.find(m) != std::string_view::npos; });
}

std::optional<std::string> conninfo_problem(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options != nullptr) PQconninfoFree(options);
  if (error == nullptr) return options != nullptr ? std::nullopt : std::optional<std::string>("out of memory");
  std::string message = first_line(error);
  PQfreemem(error);
  return message;
}

bool connection_lost(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  return sql != nullptr && sql->sqlstate() != "57014" && unavailable_state(sql->sqlstate());
}

DeadlineScope::DeadlineScope(Deadline deadline) : previous_(t_deadline) { t_deadline = deadline; }
DeadlineScope::~DeadlineScope() { t_deadline = previous_; }

Database::Database(std::string conninfo, int pool_size) : Database(std::move(conninfo), PoolOptions{pool_size}) {}

Database::Database(std::string conninfo, PoolOptions options)
    : conninfo_(std::move(conninfo)),
      connect_conninfo_(with_timeouts(conninfo_, options)),
      options_(options),
      slots_(static_cast<std::size_t>(options.size < 1 ? 1 : options.size)) {}

Database::~Database() = default;

void Database::prepare(std::string name, std::string sql) {
  std::lock_guard lock(mutex_);
  statements_.emplace_back(std::move(name), std::move(sql));
}

void Database::on_status_change(std::function<void(bool, const std::string&)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

Database::Lease Database::acquire() {
  Deadline deadline = t_deadline.value_or(Clock::now() + options_.acquire_timeout);
  std::size_t index = 0;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      // Prefer a slot with an open connection; otherwise any free slot.
      std::size_t best = slots_.size();
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].busy) continue;
        if (slots_[i].conn) {
          best = i;
          break;
        }
        if (best == slots_.size()) best = i;
      }
      if (Clock::now() >= deadline) {
        throw Unavailable("database busy: no connection within acquire_timeout (" +
                          std::to_string(options_.acquire_timeout.count()) + " ms)");
      }
      if (best < slots_.size()) {
        index = best;
        slots_[index].busy = true;
        break;
      }
      available_.wait_until(lock, deadline);
    }
  }
  Lease lease(this, index);  // from here on, the lease frees the slot whatever happens
  Slot& slot = slots_[index];
  if (slot.conn && !looks_alive(*slot.conn)) slot.conn.reset();
  if (!slot.conn) open(slot);
  std::lock_guard lock(mutex_);
  for (; slot.prepared < statements_.size(); ++slot.prepared) {
    const auto& [name, sql] = statements_[slot.prepared];
    slot.conn->prepare(name, sql);
  }
  return lease;
}

// Opens the slot's connection, or fails at once while the database is known to be down and
// its next attempt is not due (or another call is making it): one probe at a time.
void Database::open(Slot& slot) {
  {
    std::lock_guard lock(mutex_);
    if (down_) {
      auto now = Clock::now();
      if (probing_ || now < retry_at_) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::max(retry_at_ - now, Clock::duration{}));
        throw Unavailable("database unreachable (" + last_error_ + "); next attempt in " +
                          std::to_string(wait.count()) + " ms");
      }
      probing_ = true;
    }
  }
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(connect_conninfo_);
    // Bounds every statement on the server (libpqxx sets it again if it reconnects).
    conn->set_variable("statement_timeout", std::to_string(options_.query_timeout.count()));
  } catch (const std::exception& e) {
    std::function<void(bool, const std::string&)> notify;
    std::string message;
    {
      std::lock_guard lock(mutex_);
      probing_ = false;
      backoff_ = down_ ? std::min(options_.reconnect_delay_max, backoff_ * 2)
                       : std::min(options_.reconnect_delay_max, kFirstRetry);
      retry_at_ = Clock::now() + jittered(backoff_);
      last_error_ = first_line(e.what());
      if (!down_) {
        notify = listener_;
        message = "database unreachable: " + last_error_ + "; requests that need it fail until it is back";
      }
      down_ = true;
    }
    if (notify) notify(false, message);
    throw;
  }
  slot.conn = std::move(conn);
  slot.prepared = 0;
  std::function<void(bool, const std::string&)> notify;
  {
    std::lock_guard lock(mutex_);
    probing_ = false;
    if (down_) {
      down_ = false;
      backoff_ = std::chrono::milliseconds(0);
      notify = listener_;
    }
  }
  if (notify) notify(true, "database reachable again");
}

std::chrono::milliseconds Database::next_attempt_in() {
  std::lock_guard lock(mutex_);
  if (!down_) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(std::max(retry_at_ - Clock::now(), Clock::duration{}));
}

pqxx::connection* Database::Lease::conn_() { return db_->slots_[slot_].conn.get(); }

void Database::Lease::discard() { db_->slots_[slot_].conn.reset(); }

Database::Lease::~Lease() {
  if (db_ != nullptr) db_->give_back(slot_);
}

void Database::give_back(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    slots_[index].busy = false;
  }
  available_.notify_one();
}

}  // namespace parley::storage
