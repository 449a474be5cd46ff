#include "federation/srv_resolver.hpp"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>

#include "federation/domain_name.hpp"

namespace asio = boost::asio;

namespace parley::federation {
namespace {

constexpr int kClassIn = 1;   // RFC 1035 §3.2.4
constexpr int kTypeSrv = 33;  // RFC 2782

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

LookupStatus status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS: return LookupStatus::ok;
    case ARES_ENODATA: return LookupStatus::no_data;
    case ARES_ENOTFOUND: return LookupStatus::nxdomain;
    case ARES_ETIMEOUT: return LookupStatus::timeout;
    default: return LookupStatus::failure;
  }
}

struct AddressAnswer {
  LookupStatus status = LookupStatus::timeout;  // until an answer arrives
  std::vector<asio::ip::address> addresses;
  std::string error = "no answer in time";
};

// Lookups running together, and one coroutine waiting for all of them. Shared with the
// c-ares callbacks, which may run after the waiter gave up at its deadline.
struct Batch {
  explicit Batch(const asio::any_io_executor& executor)
      : done(executor, asio::steady_timer::time_point::max()) {}

  void finish_one() {
    if (--outstanding == 0) done.cancel();  // wakes the waiter, if it is waiting already
  }

  asio::steady_timer done;
  int outstanding = 0;
  std::vector<SrvAnswer> srv;              // [0] _xmpps-server, [1] _xmpp-server
  std::vector<AddressAnswer> addresses;    // one per distinct host
};

// What a c-ares callback gets as its argument; owned by the callback, which c-ares calls
// exactly once per query (with ARES_EDESTRUCTION when the channel goes away).
struct Slot {
  std::shared_ptr<Batch> batch;
  std::size_t index;
  bool direct_tls;
};

// c-ares calls these from C: nothing may propagate out of them.
void on_srv(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) noexcept {
  std::unique_ptr<Slot> slot(static_cast<Slot*>(arg));
  SrvAnswer& answer = slot->batch->srv[slot->index];
  try {
    if (status == ARES_SUCCESS) {
      ares_srv_reply* reply = nullptr;
      int parsed = ares_parse_srv_reply(abuf, alen, &reply);
      if (parsed == ARES_SUCCESS) {
        for (const ares_srv_reply* r = reply; r != nullptr; r = r->next) {
          answer.records.push_back(
              {r->priority, r->weight, r->port, r->host ? r->host : "", slot->direct_tls});
        }
        ares_free_data(reply);
        answer.status = answer.records.empty() ? LookupStatus::no_data : LookupStatus::ok;
      } else {
        // An answer without SRV records (a CNAME only, say) is no data.
        answer.status = parsed == ARES_ENODATA ? LookupStatus::no_data : LookupStatus::failure;
        answer.error = ares_strerror(parsed);
      }
    } else {
      answer.status = status_of(status);
      answer.error = ares_strerror(status);
    }
  } catch (...) {
    answer.status = LookupStatus::failure;
    answer.error = "out of memory";
  }
  slot->batch->finish_one();
}

void on_addresses(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) noexcept {
  std::unique_ptr<Slot> slot(static_cast<Slot*>(arg));
  AddressAnswer& answer = slot->batch->addresses[slot->index];
  try {
    answer.error.clear();
    if (status == ARES_SUCCESS && result != nullptr) {
      for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
        asio::ip::address address;
        if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(sockaddr_in)) {
          sockaddr_in sin{};
          std::memcpy(&sin, node->ai_addr, sizeof sin);
          asio::ip::address_v4::bytes_type bytes;
          std::memcpy(bytes.data(), &sin.sin_addr, bytes.size());
          address = asio::ip::address_v4(bytes);
        } else if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(sockaddr_in6)) {
          sockaddr_in6 sin6{};
          std::memcpy(&sin6, node->ai_addr, sizeof sin6);
          asio::ip::address_v6::bytes_type bytes;
          std::memcpy(bytes.data(), &sin6.sin6_addr, bytes.size());
          address = asio::ip::address_v6(bytes, sin6.sin6_scope_id);
        } else {
          continue;
        }
        if (std::find(answer.addresses.begin(), answer.addresses.end(), address) ==
            answer.addresses.end()) {
          answer.addresses.push_back(address);
        }
      }
      answer.status = answer.addresses.empty() ? LookupStatus::no_data : LookupStatus::ok;
    } else {
      answer.status = status_of(status);
      answer.error = ares_strerror(status);
    }
  } catch (...) {
    answer.status = LookupStatus::failure;
    answer.error = "out of memory";
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  slot->batch->finish_one();
}

// Waits until every lookup of the batch has answered or the deadline has passed; true
// when all answered.
asio::awaitable<bool> wait_for(Batch& batch, std::chrono::steady_clock::time_point deadline) {
  if (batch.outstanding > 0) {
    batch.done.expires_at(deadline);
    auto [ec] = co_await batch.done.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // cancelled: all answered (or shutdown); expired: the deadline
  }
  co_return batch.outstanding == 0;
}

std::string_view describe(LookupStatus status) {
  switch (status) {
    case LookupStatus::ok: return "ok";
    case LookupStatus::no_data: return "no A/AAAA records";
    case LookupStatus::nxdomain: return "NXDOMAIN";
    case LookupStatus::timeout: return "timed out";
    case LookupStatus::failure: return "failed";
  }
  return "?";
}

ResolveError error_of(LookupStatus status) {
  switch (status) {
    case LookupStatus::nxdomain: return ResolveError::nxdomain;
    case LookupStatus::no_data: return ResolveError::no_address;
    case LookupStatus::timeout: return ResolveError::timeout;
    default: return ResolveError::failure;
  }
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

struct SrvResolver::Impl : std::enable_shared_from_this<Impl> {
  // One socket c-ares opened, watched for what c-ares asked. The descriptor never owns
  // the socket: c-ares closes it, after telling us (on_sock_state with 0, 0).
  struct Watch {
    Watch(const asio::any_io_executor& executor, ares_socket_t socket)
        : fd(socket), descriptor(executor, socket) {}
    ~Watch() { close(); }
    void close() {
      closed = true;
      if (descriptor.is_open()) {
        boost::system::error_code ec;
        descriptor.cancel(ec);
        descriptor.release();
      }
    }
    ares_socket_t fd;
    asio::posix::stream_descriptor descriptor;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool closed = false;
  };

  Impl(asio::any_io_executor ex, ResolverOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), timer(executor) {
    init_library();
    std::uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
    rng.seed(seed);
    for (const auto& [domain, target] : options.routes) {
      routes.emplace(to_ascii_domain(domain).value_or(lower_ascii(domain)), target);
    }
    ares_options ares{};
    ares.sock_state_cb = &Impl::on_sock_state;
    ares.sock_state_cb_data = this;
    ares.timeout = static_cast<int>(std::max<std::int64_t>(1, options.query_timeout.count()));
    ares.tries = std::max(1, options.tries);
    // No search domains: every name asked here is a complete one.
    ares.domains = nullptr;
    ares.ndomains = 0;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
    if (int rc = ares_init_options(&channel, &ares, mask); rc != ARES_SUCCESS) {
      channel = nullptr;
      throw std::runtime_error(fmt::format("cannot set up the DNS resolver: {}", ares_strerror(rc)));
    }
    if (!options.servers.empty()) {
      if (int rc = ares_set_servers_ports_csv(channel, options.servers.c_str()); rc != ARES_SUCCESS) {
        ares_destroy(channel);
        channel = nullptr;
        throw std::runtime_error(fmt::format("bad DNS servers '{}': {}", options.servers,
                                             ares_strerror(rc)));
      }
    }
  }

  ~Impl() { shutdown(); }

  void shutdown() {
    if (channel == nullptr) return;
    ares_channel doomed = channel;
    channel = nullptr;  // handlers still queued see this and do nothing
    // Outstanding queries complete with ARES_EDESTRUCTION, which wakes their waiters;
    // sockets are announced closed (on_sock_state) before c-ares closes them.
    ares_destroy(doomed);
    timer.cancel();
    for (auto& [fd, watch] : watches) watch->close();
    watches.clear();
  }

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) noexcept {
    auto* self = static_cast<Impl*>(data);
    try {
      auto it = self->watches.find(fd);
      if (!readable && !writable) {
        if (it != self->watches.end()) {
          it->second->close();
          self->watches.erase(it);
        }
        return;
      }
      if (it == self->watches.end()) {
        it = self->watches.emplace(fd, std::make_shared<Watch>(self->executor, fd)).first;
      }
      it->second->want_read = readable != 0;
      it->second->want_write = writable != 0;
      if (self->channel != nullptr) self->start_waits(it->second);
    } catch (...) {
      // Not watched: the query on this socket ends at its c-ares timeout instead.
    }
  }

  void start_waits(const std::shared_ptr<Watch>& watch) {
    if (watch->closed) return;
    auto self = shared_from_this();
    if (watch->want_read && !watch->reading) {
      watch->reading = true;
      watch->descriptor.async_wait(
          asio::posix::descriptor_base::wait_read, [self, watch](boost::system::error_code ec) {
            watch->reading = false;
            if (ec || watch->closed || self->channel == nullptr) return;
            ares_process_fd(self->channel, watch->fd, ARES_SOCKET_BAD);
            self->start_waits(watch);
            self->arm_timer();
          });
    }
    if (watch->want_write && !watch->writing) {
      watch->writing = true;
      watch->descriptor.async_wait(
          asio::posix::descriptor_base::wait_write, [self, watch](boost::system::error_code ec) {
            watch->writing = false;
            if (ec || watch->closed || self->channel == nullptr) return;
            ares_process_fd(self->channel, ARES_SOCKET_BAD, watch->fd);
            self->start_waits(watch);
            self->arm_timer();
          });
    }
  }

  // c-ares notices timeouts (and retries) only when called: wake it when the next one is
  // due. Re-arming cancels the previous wait.
  void arm_timer() {
    if (channel == nullptr) return;
    timeval tv{};
    if (ares_timeout(channel, nullptr, &tv) == nullptr) {
      timer.cancel();  // nothing outstanding
      return;
    }
    timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->channel == nullptr) return;
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->arm_timer();
    });
  }

  std::shared_ptr<Batch> start_srv(const std::string& domain) {
    auto batch = std::make_shared<Batch>(executor);
    batch->srv.resize(2);
    batch->outstanding = 2;
    const std::string names[2] = {"_xmpps-server._tcp." + domain, "_xmpp-server._tcp." + domain};
    for (std::size_t i = 0; i < 2; ++i) {
      ares_query(channel, names[i].c_str(), kClassIn, kTypeSrv, &on_srv,
                 new Slot{batch, i, i == 0});
    }
    arm_timer();
    return batch;
  }

  // One lookup per distinct host; `index_of` maps each candidate to its answer.
  std::shared_ptr<Batch> start_addresses(const std::vector<Candidate>& candidates,
                                         std::vector<std::size_t>& index_of) {
    auto batch = std::make_shared<Batch>(executor);
    std::vector<std::string> hosts;
    for (const Candidate& c : candidates) {
      auto it = std::find(hosts.begin(), hosts.end(), c.host);
      index_of.push_back(static_cast<std::size_t>(it - hosts.begin()));
      if (it == hosts.end()) hosts.push_back(c.host);
    }
    batch->addresses.resize(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      boost::system::error_code ec;
      asio::ip::address literal = asio::ip::make_address(hosts[i], ec);
      if (!ec) {
        batch->addresses[i] = {LookupStatus::ok, {literal}, {}};
        continue;
      }
      ares_addrinfo_hints hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      ++batch->outstanding;  // before the call: its callback may run inside it
      ares_getaddrinfo(channel, hosts[i].c_str(), nullptr, &hints, &on_addresses,
                       new Slot{batch, i, false});
    }
    arm_timer();
    return batch;
  }

  const std::string* find_route(const std::string& domain) const {
    auto it = routes.find(domain);
    return it == routes.end() ? nullptr : &it->second;
  }

  asio::any_io_executor executor;
  ResolverOptions options;
  std::map<std::string, std::string> routes;  // A-label domain -> "host:port"
  std::mt19937_64 rng;
  asio::steady_timer timer;
  ares_channel channel = nullptr;
  std::map<ares_socket_t, std::shared_ptr<Watch>> watches;
};

namespace {

// Pairs the candidates with their addresses; targets without any are left out, and when
// none is left the result says why, per target.
ResolveResult assemble(ResolveResult result, const std::vector<Candidate>& candidates,
                       const std::vector<std::size_t>& index_of, const Batch& batch) {
  std::vector<std::string> failures;
  std::vector<LookupStatus> statuses;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const AddressAnswer& answer = batch.addresses[index_of[i]];
    if (answer.status == LookupStatus::ok) {
      result.candidates.push_back({c.host, c.port, c.direct_tls, answer.addresses});
      continue;
    }
    statuses.push_back(answer.status);
    std::string what(describe(answer.status));
    if (answer.status == LookupStatus::failure && !answer.error.empty()) what += ": " + answer.error;
    failures.push_back(fmt::format("{} ({})", c.host, what));
  }
  if (!result.candidates.empty()) return result;

  bool all_timeouts = std::all_of(statuses.begin(), statuses.end(),
                                  [](LookupStatus s) { return s == LookupStatus::timeout; });
  if (candidates.size() == 1) {
    result.error = error_of(statuses.front());
    result.reason = fmt::format("{}; no address for {}", result.reason, failures.front());
    if (statuses.front() == LookupStatus::nxdomain)
      result.reason = fmt::format("{} does not exist (NXDOMAIN)", candidates.front().host);
  } else {
    result.error = all_timeouts ? ResolveError::timeout : ResolveError::no_address;
    std::string list;
    for (const auto& f : failures) list += (list.empty() ? "" : ", ") + f;
    result.reason = fmt::format("{}; none has an address: {}", result.reason, list);
  }
  return result;
}

}  // namespace

SrvResolver::SrvResolver(asio::any_io_executor executor, ResolverOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

SrvResolver::~SrvResolver() {
  if (impl_) impl_->shutdown();
}

asio::awaitable<ResolveResult> SrvResolver::resolve(std::string domain) {
  std::shared_ptr<Impl> impl = impl_;
  const auto deadline = std::chrono::steady_clock::now() + impl->options.deadline;
  ResolveResult result;

  std::optional<std::string> ascii = to_ascii_domain(domain);
  if (!ascii) {
    result.error = ResolveError::bad_domain;
    result.reason = fmt::format("'{}' is not a valid domain name", domain);
    co_return result;
  }
  std::vector<Candidate> candidates;
  if (is_ip_literal(*ascii)) {
    // RFC 6120 §3.2: no DNS for an IP address; the default port.
    std::string host = ascii->front() == '[' ? ascii->substr(1, ascii->size() - 2) : *ascii;
    candidates.push_back({host, kXmppServerPort, false});
    result.source = ResolveResult::Source::ip_literal;
    result.reason = fmt::format("{} is an IP address", *ascii);
  } else if (const std::string* route = impl->find_route(*ascii)) {
    std::optional<Candidate> target = parse_route(*route);
    if (!target) {
      result.error = ResolveError::failure;
      result.reason = fmt::format("the static route for {} is not \"host:port\": '{}'", *ascii, *route);
      co_return result;
    }
    candidates.push_back(*target);
    result.source = ResolveResult::Source::route;
    result.reason = fmt::format("static route {} = {}", *ascii, *route);
  } else {
    if (impl->channel == nullptr) {
      result.error = ResolveError::failure;
      result.reason = "the DNS resolver is shut down";
      co_return result;
    }
    std::shared_ptr<Batch> srv = impl->start_srv(*ascii);
    bool answered = co_await wait_for(*srv, deadline);
    if (!answered) {
      result.error = ResolveError::timeout;
      result.reason = fmt::format("the DNS lookup of _xmpp-server._tcp.{} timed out", *ascii);
      co_return result;
    }
    SrvPlan plan = plan_from_srv(*ascii, srv->srv[0], srv->srv[1], impl->rng);
    result.reason = plan.reason;
    if (plan.error != ResolveError::none) {
      result.error = plan.error;
      co_return result;
    }
    candidates = std::move(plan.candidates);
    result.source = plan.fallback ? ResolveResult::Source::fallback : ResolveResult::Source::srv;
  }

  if (impl->channel == nullptr) {
    result.error = ResolveError::failure;
    result.reason = "the DNS resolver is shut down";
    co_return result;
  }
  std::vector<std::size_t> index_of;
  std::shared_ptr<Batch> lookups = impl->start_addresses(candidates, index_of);
  co_await wait_for(*lookups, deadline);  // what has not answered by then counts as timed out
  co_return assemble(std::move(result), candidates, index_of, *lookups);
}

}  // namespace parley::federation
