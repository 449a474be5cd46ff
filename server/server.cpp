#include "server/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "server/log.hpp"
#include "server/xml/serializer.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace parley::server {

struct Server::Listener {
  ListenSection section;
  tcp::acceptor acceptor;
};

Server::Server(const Config& config, const ModuleRegistry& registry, storage::Database& db,
               AccountStore& accounts, const ServerSecret& secret)
    : config_(config),
      io_(config.server.threads),
      runner_(db, static_cast<std::size_t>(config.database.pool_size)),
      tls_(config),
      router_(sessions_, runner_, accounts, io_.first().get_executor()),
      throttle_(LoginThrottle::Options{config.security.failed_login_delay, config.security.failed_login_delay_max}),
      limiter_(config.limits.max_connections, config.limits.max_connections_per_address),
      signins_(io_.first().get_executor(), runner_, accounts),
      c2s_{config, router_, accounts, runner_, tls_, throttle_, signins_, {}},
      account_events_(router_, accounts, db) {
  c2s_.limits.negotiation_timeout = config.limits.negotiation_timeout;
  c2s_.limits.idle_timeout = config.limits.idle_timeout;
  c2s_.limits.write_queue_bytes = config.limits.write_queue_bytes;
  c2s_.limits.auth_attempts = config.limits.auth_attempts;
  c2s_.limits.max_sessions_per_account = config.limits.max_sessions_per_account;
  c2s_.limits.read_bytes_per_second = config.limits.read_bytes_per_second;
  c2s_.limits.read_burst_bytes = config.limits.read_burst_bytes;
  c2s_.limits.stanza_timeout = config.limits.stanza_timeout;
  c2s_.limits.parser.max_stanza_bytes = config.limits.max_stanza_bytes;
  c2s_.limits.parser.max_depth = config.limits.max_depth;
  c2s_.limits.parser.max_attributes = config.limits.max_attributes;
  for (const auto& host : config.hosts) {
    auto& h = router_.add_host(host.domain);
    for (const auto& name : host.modules) {
      const ModuleInfo* info = registry.find(name);
      if (info == nullptr) throw std::runtime_error("host " + host.domain + ": unknown module '" + name + "'");
      static const ModuleSettings kNone;
      auto it = host.module_settings.find(name);
      h.start_module(info->create(), it != host.module_settings.end() ? it->second : kNone);
    }
  }
  if (config.federation.enabled && registry.federation() != nullptr) {
    FederationContext context{config, router_, tls_, io_, secret, c2s_.limits.parser};
    federation_ = registry.federation()(context);
  }
}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

void Server::start() {
  for (const auto& section : config_.listen) {
    bool s2s = section.type == ListenType::s2s || section.type == ListenType::s2s_tls;
    if (section.type == ListenType::http) {
      log::warning("{}: listener type {} is not implemented yet; skipped", section.location.str(),
                   to_string(section.type));
      continue;
    }
    if (s2s && !federation_) {
      log::warning("{}: {} listener skipped: federation is disabled", section.location.str(),
                   to_string(section.type));
      continue;
    }
    if (!tls_.has_certificate()) {
      throw std::runtime_error(section.location.str() + ": a " + std::string(to_string(section.type)) +
                               " listener needs a certificate: set [tls] certificate and private_key");
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(section.address, ec);
    if (ec) throw std::runtime_error(section.location.str() + ": bad listen address '" + section.address + "'");
    auto l = std::make_unique<Listener>(Listener{section, tcp::acceptor(io_.first())});
    tcp::endpoint ep(address, section.port);
    l->acceptor.open(ep.protocol());
    l->acceptor.set_option(tcp::acceptor::reuse_address(true));
    l->acceptor.bind(ep, ec);
    if (ec) {
      throw std::runtime_error(section.location.str() + ": cannot listen on " + section.address + ":" +
                               std::to_string(section.port) + ": " + ec.message());
    }
    l->acceptor.listen(asio::socket_base::max_listen_connections);
    listeners_.push_back(std::move(l));
  }
  for (auto& l : listeners_) {
    auto ep = l->acceptor.local_endpoint();
    log::info("listening for {} on {}:{}", to_string(l->section.type), ep.address().to_string(), ep.port());
    asio::co_spawn(io_.first(), accept_loop(*l), asio::detached);
  }
  housekeeping_ = std::make_unique<asio::steady_timer>(io_.first());
  asio::co_spawn(io_.first(), housekeeping(), asio::detached);
  account_events_.start();
  io_.start();
}

namespace {

asio::awaitable<void> purge_signins(storage::Runner& runner, AccountStore& accounts, std::chrono::hours retention) {
  auto purge = [&accounts, retention] { return accounts.purge_signins(retention); };
  auto r = co_await runner.execute(std::move(purge));
  if (!r.ok()) {
    log::warning("sign-ins not purged: {}", r.error().message);
  } else if (r.value() > 0) {
    log::info("purged {} sign-in(s) older than {} days", r.value(), retention.count() / 24);
  }
}

}  // namespace

// Rotates the session-ticket keys every [tls] ticket_key_lifetime, purges expired TLS
// sessions every minute (or every lifetime, if shorter), and sign-ins past [security]
// signin_retention_days at start and every hour.
asio::awaitable<void> Server::housekeeping() {
  const auto lifetime = config_.tls.ticket_key_lifetime;
  const auto tick = std::min<std::chrono::steady_clock::duration>(lifetime, std::chrono::minutes(1));
  auto next_rotation = std::chrono::steady_clock::now() + lifetime;
  auto next_purge = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_purge) {
      co_await purge_signins(runner_, c2s_.accounts, config_.security.signin_retention);
      next_purge += std::chrono::hours(1);
    }
    housekeeping_->expires_after(tick);
    auto [ec] = co_await housekeeping_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    tls_.flush_expired_sessions();
    if (std::chrono::steady_clock::now() >= next_rotation) {
      tls_.rotate_ticket_keys();
      next_rotation += lifetime;
      log::debug("TLS session-ticket keys rotated");
    }
  }
}

asio::awaitable<void> Server::accept_loop(Listener& l) {
  for (;;) {
    auto [ec, socket] = co_await l.acceptor.async_accept(io_.next(), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) co_return;
    if (ec) {
      // e.g. out of file descriptors: wait a little rather than spin.
      log::warning("accept on {}: {}", to_string(l.section.type), ec.message());
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    accept(l, std::move(socket));
  }
}

// [limits] max_connections counts every connection; max_connections_per_address only
// clients (a busy peer server may rightly hold several). A refused client on the STARTTLS
// port is told why in a stream error; on TLS ports the connection is just closed.
void Server::accept(Listener& l, tcp::socket socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string address = ec ? std::string("unknown") : endpoint.address().to_string();
  bool client = l.section.type == ListenType::c2s || l.section.type == ListenType::c2s_tls;
  std::string why;
  auto admission = limiter_.admit(address, client, &why);
  if (!admission) {
    log::warning("{} connection from {} refused: {}", to_string(l.section.type), address, why);
    if (l.section.type == ListenType::c2s) {
      std::string bye = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" +
                        xml::stream_error("policy-violation", "too many connections") + "</stream:stream>";
      asio::write(socket, asio::buffer(bye), ec);  // a few bytes into an empty socket buffer
    }
    socket.close(ec);
    return;
  }
  switch (l.section.type) {
    case ListenType::c2s:
    case ListenType::c2s_tls:
      std::make_shared<c2s::C2sSession>(std::move(socket), c2s_, l.section.type == ListenType::c2s_tls,
                                        std::move(*admission))
          ->start();
      break;
    case ListenType::s2s:
    case ListenType::s2s_tls:
      federation_->accept(std::move(socket), l.section.type == ListenType::s2s_tls, std::move(*admission));
      break;
    case ListenType::http:
      break;
  }
}

std::vector<std::pair<ListenType, tcp::endpoint>> Server::endpoints() const {
  std::vector<std::pair<ListenType, tcp::endpoint>> out;
  for (const auto& l : listeners_) out.emplace_back(l->section.type, l->acceptor.local_endpoint());
  return out;
}

void Server::stop(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) {
    asio::post(l->acceptor.get_executor(), [a = &l->acceptor] {
      boost::system::error_code ec;
      a->close(ec);
    });
  }
  // Stanzas being handled finish first: their archive batches and offline rows are committed
  // (and stream management can acknowledge them) before the clients are told to go.
  auto until = std::chrono::steady_clock::now() + grace;
  auto drained = std::chrono::steady_clock::now() + grace / 2;
  while (router_.pending() > 0 && std::chrono::steady_clock::now() < drained) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Every bound client gets <system-shutdown/> (RFC 6120 §4.9.3.17) and a TLS close; a
  // detached (hibernating) session ends, and what it held goes to offline storage, which
  // the wait below covers (router_.pending(): HostContext::busy()).
  sessions_.for_each([](const std::shared_ptr<ClientSession>& s) { s->close("system-shutdown"); });
  if (federation_) federation_->stop();
  auto busy = [&] {
    return sessions_.size() > 0 || router_.pending() > 0 || (federation_ && federation_->active() > 0);
  };
  while (busy() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (housekeeping_) {
    asio::post(housekeeping_->get_executor(), [t = housekeeping_.get()] { t->cancel(); });
  }
  io_.stop();
  federation_.reset();
  account_events_.stop();  // no user/* handler runs once the modules stop
  router_.stop_modules();
  signins_.stop();  // the rows still queued, written now
  runner_.stop();
}

}  // namespace parley::server
