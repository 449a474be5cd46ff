// The I/O half of a client session: reading into the XML parser, the single-writer output
// queue, the watchdog, TLS handshakes and closing. The protocol steps are in
// c2s_negotiation.cpp.
#include "server/c2s/c2s_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <array>

#include "server/log.hpp"
#include "server/xml/serializer.hpp"

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace parley::server::c2s {

/// Collects what the parser reports during one feed(), for the coroutine to process after.
class C2sSession::ParserSink final : public xml::StreamParser::Handler {
 public:
  explicit ParserSink(Fifo<ParserEvent>& events) : events_(events) {}
  void on_stream_open(const xml::StreamHeader& h) override { events_.emplace_back(Header{h}); }
  void on_stanza(xml::Element&& e) override { events_.emplace_back(std::move(e)); }
  void on_stream_close() override { events_.emplace_back(Closed{}); }
  void on_error(xml::StreamError e) override { events_.emplace_back(std::move(e)); }

 private:
  Fifo<ParserEvent>& events_;
};

C2sSession::C2sSession(asio::ip::tcp::socket socket, Services& services, bool direct_tls,
                       net::ConnectionLimiter::Ticket admission)
    : services_(services),
      admission_(std::move(admission)),
      stream_(std::move(socket), services.tls.server(direct_tls)),
      direct_tls_(direct_tls),
      sink_(std::make_unique<ParserSink>(events_)),
      writer_done_(stream_.get_executor()),
      watchdog_timer_(stream_.get_executor()) {
  boost::system::error_code ec;
  auto ep = stream_.next_layer().remote_endpoint(ec);
  remote_address_ = ec ? "unknown" : ep.address().to_string();
  parser_ = std::make_unique<xml::StreamParser>(*sink_, std::string(kClientNs), services.limits.parser);
  // Negotiation is a quick exchange: the parser is kept through it and freed between stanzas
  // once the session is bound and may sit idle (see on_bind).
  parser_->set_release_when_idle(false);
  stream_.prepare_record_takeover();
  writer_done_.expires_at(asio::steady_timer::time_point::max());
  read_tokens_ = static_cast<double>(services.limits.read_burst_bytes);
  tokens_at_ = std::chrono::steady_clock::now();
}

C2sSession::~C2sSession() = default;

// The session keeps itself alive through the coroutine's parameter. (A capturing lambda
// handed to co_spawn is mis-copied by GCC 12; a coroutine function with a by-value
// parameter is not.)
asio::awaitable<void> C2sSession::keep_alive(std::shared_ptr<C2sSession> self, bool writer) {
  if (writer) {
    co_await self->writer();
  } else {
    co_await self->run();
  }
}

void C2sSession::start() {
  asio::co_spawn(stream_.get_executor(), keep_alive(shared_from_this(), false), asio::detached);
}

void C2sSession::deadline_in(std::chrono::seconds s) { deadline_ = std::chrono::steady_clock::now() + s; }

asio::awaitable<void> C2sSession::run() {
  auto self = shared_from_this();
  deadline_in(services_.limits.negotiation_timeout);
  arm_watchdog();
  try {
    co_await read_loop();
  } catch (const std::exception& e) {
    log::error("c2s {}: {}", remote_address_, e.what());
  }
  closing_ = true;
  watchdog_done_ = true;
  watchdog_timer_.cancel();
  // A close asked for on purpose (close(), a stream error of ours; not an idle timeout) ends
  // the session even when the link dropped at the same moment and finish() never ran.
  bool deliberate = clean_end_ || (pending_close_ && *pending_close_ != "connection-timeout");
  if (bound_) {
    // The session this connection carried (itself, or the root it resumed). If another
    // connection has taken it over since, nothing more to do; else stream management may
    // keep it detached (hibernating); else it ends.
    C2sSession* session = root_ ? root_.get() : this;
    bool mine = false, keep = false;
    {
      std::lock_guard lock(session->takeover_mutex_);
      mine = session->carried_by(this);
      if (mine) {
        bool resumable = !deliberate && !session->close_requested_;
        keep = session->hooks_ && session->hooks_->connection_lost(resumable);
        session->carrier_.reset();
        session->detached_ = keep;
        session->ended_ = !keep;
      }
    }
    if (!mine) {
      log::info("c2s {}: connection closed, the session continues on a resumed stream ({})", jid_->str(), remote_address_);
    } else if (keep) {
      log::info("c2s {}: connection lost, session detached for resumption ({})", jid_->str(), remote_address_);
    } else {
      session->end_session();
    }
  }
  shutdown_socket();
}

// Ends a session whose deadline passed: first asks the reader to close with
// <connection-timeout/> (RFC 6120 §4.9.3.4), then, if the reader is stuck too (a client that
// neither reads nor writes), closes the socket five seconds later, which ends every wait on
// it. A timer with a handler, not a coroutine: an idle session keeps no frame for it.
void C2sSession::arm_watchdog() {
  watchdog_timer_.expires_at(deadline_);
  // Woken by the deadline or by a cancel that moved it; only the clock decides.
  watchdog_timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->on_watchdog(); });
}

void C2sSession::on_watchdog() {
  if (watchdog_done_) return;
  if (std::chrono::steady_clock::now() < deadline_) {
    arm_watchdog();
    return;
  }
  if (watchdog_asked_ || closing_) {
    watchdog_done_ = true;
    shutdown_socket();
    return;
  }
  watchdog_asked_ = true;
  if (!pending_close_) pending_close_ = "connection-timeout";  // a close asked for first wins
  boost::system::error_code ignored;
  stream_.next_layer().cancel(ignored);
  deadline_in(std::chrono::seconds(5));
  arm_watchdog();
}

asio::awaitable<bool> C2sSession::handshake() {
  auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
  if (ec) {
    log::info("c2s {}: TLS handshake failed: {}", remote_address_, ec.message());
    co_return false;
  }
  tls_ = true;
  co_return true;
}

// One read buffer per network thread, used only between two suspensions of a reader. Not
// inline: the address of a thread_local must not be kept across a co_await.
[[gnu::noinline]] asio::mutable_buffer C2sSession::read_buffer() {
  static thread_local std::array<char, 16 * 1024> buffer;
  return asio::buffer(buffer);
}

asio::awaitable<void> C2sSession::read_loop() {
  if (direct_tls_) {
    bool secured = co_await handshake();  // not inside the condition: GCC 12 coroutine bug
    if (!secured) co_return;
  }
  while (!closing_) {
    if (pending_close_) {
      co_await finish(*pending_close_);
      co_return;
    }
    if (read_tokens_ < 0) {
      // The session may have been closed or asked to close meanwhile (a socket cancel
      // finds no read to stop while pacing): look again before reading.
      co_await pace();
      continue;
    }
    // Read what is there into the thread's buffer and parse it before the next suspension;
    // wait for the socket holding no buffer (memory per idle connection, docs/profiling.md).
    auto buffer = read_buffer();
    boost::system::error_code ec;
    std::size_t n = tls_ ? stream_.read_some(buffer, ec) : stream_.next_layer().read_some(buffer, ec);
    if (ec == asio::error::would_block) {
      auto want = tls_ ? stream_.wait_needed() : asio::socket_base::wait_read;
      std::tie(ec) = co_await stream_.next_layer().async_wait(want, as_tuple(use_awaitable));
      if (!ec) continue;
    }
    if (ec) {
      // Cancelled by close() or the watchdog: say goodbye properly. Otherwise (eof,
      // stream_truncated, reset) the client is gone.
      if (pending_close_ && !closing_) co_await finish(*pending_close_);
      co_return;
    }
    parser_->feed(std::string_view(static_cast<const char*>(buffer.data()), n));
    after_read(n);
    while (!events_.empty() && !closing_) {
      ParserEvent ev = std::move(events_.front());
      events_.pop_front();
      if (auto* h = std::get_if<Header>(&ev)) {
        co_await on_header(h->header);
      } else if (auto* e = std::get_if<xml::Element>(&ev)) {
        co_await on_element(std::move(*e));
      } else if (std::holds_alternative<Closed>(ev)) {
        co_await finish({});
      } else {
        auto& err = std::get<xml::StreamError>(ev);
        co_await finish(err.condition, err.text);
      }
    }
  }
}

// [limits]: bytes cost tokens, which come back at read_bytes_per_second up to the burst; a
// client that sends faster is read more slowly (TCP pushes back), never cut off. A bound
// client's deadline is its idle timeout, or sooner when a stanza it began is still not
// finished after stanza_timeout (a slowloris), which then ends with <connection-timeout/>.
void C2sSession::after_read(std::size_t n) {
  auto now = std::chrono::steady_clock::now();
  const double rate = static_cast<double>(services_.limits.read_bytes_per_second);
  read_tokens_ = std::min(static_cast<double>(services_.limits.read_burst_bytes),
                          read_tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
  tokens_at_ = now;
  read_tokens_ -= static_cast<double>(n);
  last_received_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  if (!bound_) return;  // before binding, each negotiation step has its own deadline
  auto next = now + services_.limits.idle_timeout;
  if (parser_->bytes_buffered() > 0) {
    if (!stanza_since_) stanza_since_ = now;
    next = std::min(next, *stanza_since_ + services_.limits.stanza_timeout);
  } else {
    stanza_since_.reset();
  }
  bool sooner = next < deadline_;
  deadline_ = next;
  if (sooner) watchdog_timer_.cancel();  // it re-arms for the new deadline
}

asio::awaitable<void> C2sSession::pace() {
  const double rate = static_cast<double>(services_.limits.read_bytes_per_second);
  auto wait = std::chrono::duration<double>(-read_tokens_ / rate);
  asio::steady_timer timer(stream_.get_executor(), std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
  co_await timer.async_wait(as_tuple(use_awaitable));
  auto now = std::chrono::steady_clock::now();
  read_tokens_ = std::min(static_cast<double>(services_.limits.read_burst_bytes),
                          read_tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
  tokens_at_ = now;
  if (read_tokens_ < 0) read_tokens_ = 0;
}

asio::awaitable<void> C2sSession::write_now(std::string data) {
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(data), as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_.next_layer(), asio::buffer(data), as_tuple(use_awaitable));
  }
  if (ec) closing_ = true;
}

// Ends the stream: an error if `condition` is set (RFC 6120 §4.9), the closing tag, a TLS
// close_notify, then the socket. Used for a client's </stream:stream> too (empty condition).
asio::awaitable<void> C2sSession::finish(std::string_view condition, std::string text) {
  if (closing_) co_return;
  // A stream that timed out may be resumed (XEP-0198 §5); one closed on purpose may not.
  if (condition != "connection-timeout") clean_end_ = true;
  std::string bye;
  if (!header_sent_) {
    // RFC 6120 §4.9.1.3: an error before our header still opens the stream first.
    bye = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    header_sent_ = true;
  }
  if (!condition.empty()) {
    bye += xml::stream_error(condition, text);
    log::info("c2s {}: stream error {}{}{}", remote_address_, condition, text.empty() ? "" : ": ", text);
  }
  bye += "</stream:stream>";
  if (writer_running_) {
    // Queued stanzas go out first, then the goodbye, through the single writer.
    enqueue(std::move(bye));
    closing_ = true;
    deadline_in(std::chrono::seconds(5));
    watchdog_timer_.cancel();  // it re-arms for the new deadline
    co_await writer_done_.async_wait(as_tuple(use_awaitable));
  } else {
    closing_ = true;
    deadline_in(std::chrono::seconds(5));
    watchdog_timer_.cancel();
    co_await write_now(std::move(bye));
  }
  // Not on a closed socket (the watchdog's or the writer's): its fd may be another's now.
  if (tls_ && stream_.next_layer().is_open()) {
    // Our close_notify goes out; waiting for the peer's is bounded to a second.
    deadline_in(std::chrono::seconds(1));
    watchdog_timer_.cancel();
    co_await stream_.async_shutdown(as_tuple(use_awaitable));
  }
  shutdown_socket();
}

void C2sSession::shutdown_socket() {
  boost::system::error_code ec;
  // Input left unread makes close() reset the connection, and a reset can destroy what was
  // sent last (a TLS alert, a stream error) before the client reads it: drop what is here
  // already, bounded. (asio::ssl::stream used to have read ahead into its own buffer.)
  auto& socket = stream_.next_layer();
  for (int i = 0; i < 4 && socket.is_open() && !ec; ++i) socket.read_some(read_buffer(), ec);
  ec.clear();
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
}

// The single writer: drains the queue, coalescing what accumulated into one write. Started
// by what it is given to write, it ends when the queue is empty, so an idle session keeps
// no frame, buffer or timer for it; once the session is closing it ends for good.
asio::awaitable<void> C2sSession::writer() {
  std::string batch;
  for (;;) {
    if (queue_.empty()) {
      if (closing_) break;
      // Idle: once TLS 1.3 is up, OpenSSL's own object is given back too (the records are
      // protected here from then on; tried at each idle moment until nothing is half read:
      // docs/profiling.md).
      if (tls_ && bound_ && !stream_.records_taken_over()) stream_.take_over_records();
      writer_active_ = false;
      co_return;
    }
    batch.clear();
    while (!queue_.empty() && batch.size() < 64 * 1024) {
      batch += queue_.front();
      queue_.pop_front();
    }
    queued_bytes_ -= std::min(queued_bytes_, batch.size());
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(batch), as_tuple(use_awaitable));
    if (ec) {
      closing_ = true;
      shutdown_socket();
      break;
    }
  }
  writer_active_ = false;
  writer_running_ = false;
  writer_done_.cancel();
}

void C2sSession::wake_writer() {
  if (writer_active_ || !writer_running_) return;
  writer_active_ = true;
  asio::co_spawn(stream_.get_executor(), keep_alive(shared_from_this(), true), asio::detached);
}

void C2sSession::enqueue(std::string data) {
  queued_bytes_ += data.size();
  queue_.push_back(std::move(data));
  // What waits behind the write in flight passed the bound: the client stopped reading; drop
  // it rather than let its queue grow without bound. (One stanza alone may exceed the bound:
  // stanzas are bounded by [limits] max_stanza_bytes.)
  if (queued_bytes_ > services_.limits.write_queue_bytes && queue_.size() > 1 && !closing_) {
    log::warning("c2s {}: output queue over {} bytes, disconnecting", jid_ ? jid_->str() : remote_address_,
                 services_.limits.write_queue_bytes);
    closing_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    shutdown_socket();
  }
  wake_writer();
}

void C2sSession::send(Stanza stanza) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), st = std::move(stanza)]() mutable {
    self->deliver(std::move(st));
  });
}

bool C2sSession::carried_by(const C2sSession* connection) const {
  if (ended_) return false;
  if (carrier_) return carrier_.get() == connection;
  return connection == this && !detached_;
}

// On the session's thread. The hooks see every stanza for the session, also while it is
// closing or detached, so that stream management can resend or store what was not
// acknowledged; a resumed session's stanzas go to the connection that carries it.
void C2sSession::deliver(Stanza st) {
  std::string data;
  {
    std::lock_guard lock(takeover_mutex_);
    bool own = !carrier_ && !closing_ && !detached_ && !ended_;
    if (!bound_ || (!own && !carrier_ && !hooks_)) return;
    auto self = shared_from_this();
    if (!services_.router.filter_outgoing(st, self)) return;
    data = xml::serialize(st.element, kClientNs);
    // Written (or posted to the carrier) first, so that an <r/> the hooks add follows it.
    if (!hooks_) {
      if (own) enqueue(std::move(data));
      if (carrier_) carrier_->write(std::move(data));
      return;
    }
    if (own) enqueue(data);
    if (carrier_) carrier_->write(data);
    hooks_->stanza_sent(st, data);
  }
}

// Unbound first, so that what the hooks hand to offline storage is not delivered back to
// this session; the hold keeps a shutdown waiting until the hooks took their own.
void C2sSession::end_session() {
  auto hold = services_.router.hold();
  services_.router.sessions().unbind(*this);
  services_.router.session_event(router::Family::session_closed, shared_from_this());
  if (hooks_) hooks_->session_ended();
  log::info("c2s {} closed ({})", jid_->str(), remote_address_);
}

std::shared_ptr<ClientSession> C2sSession::bound_session() {
  if (!bound_) return nullptr;
  if (root_) return root_;
  return shared_from_this();
}

bool C2sSession::on_own_thread() {
  auto executor = stream_.get_executor();
  auto* io = executor.target<asio::io_context::executor_type>();
  return io != nullptr && io->running_in_this_thread();
}

void C2sSession::write(std::string data) {
  if (on_own_thread()) {
    if (closing_) return;
    start_writer();
    enqueue(std::move(data));
    return;
  }
  asio::post(stream_.get_executor(), [self = shared_from_this(), d = std::move(data)]() mutable {
    self->write(std::move(d));
  });
}

void C2sSession::end(std::string_view condition, std::string text) {
  if (!text.empty()) log::info("c2s {}: ending the stream: {}", remote_address_, text);
  drop_connection(std::string(condition));
}

void C2sSession::start_writer() {
  if (writer_spawned_) return;
  writer_spawned_ = true;
  writer_running_ = true;  // from now on everything goes through the queue
  if (!queue_.empty()) wake_writer();
}

// During negotiation writes go out directly, unless the writer already runs (a stream
// element handler wrote through it): then through the queue, one write in flight.
asio::awaitable<void> C2sSession::write_negotiation(std::string data) {
  if (writer_running_) {
    enqueue(std::move(data));
  } else {
    co_await write_now(std::move(data));
  }
}

// XEP-0198 §5: this authenticated, unbound connection takes over a session of the same
// account and carries it from now on. The connection that carried it, if still open, is
// closed; its run() sees that it no longer carries the session and leaves it alone.
bool C2sSession::resume(const std::shared_ptr<ClientSession>& previous) {
  auto root = std::dynamic_pointer_cast<C2sSession>(previous);
  if (!root || root.get() == this || root->root_ || bound_ || !account_ || !root->jid_ ||
      root->jid_->bare() != account_->bare()) {
    return false;
  }
  std::shared_ptr<C2sSession> old_carrier;
  bool own_live = false;
  {
    std::lock_guard lock(root->takeover_mutex_);
    // A session being closed on purpose ends; it is not resumed.
    if (root->ended_ || !root->bound_ || root->close_requested_) return false;
    old_carrier = root->carrier_;
    own_live = !old_carrier && !root->detached_;
    root->carrier_ = shared_from_this();
    root->detached_ = false;
    if (old_carrier) old_carrier->superseded_ = true;
    if (own_live) root->superseded_ = true;
    root_ = root;
    jid_ = *root->jid_;
    hooks_ = root->hooks_;
    if (hooks_) hooks_->taken_over(*this);
  }
  if (old_carrier) old_carrier->drop_connection("conflict");
  if (own_live) root->drop_connection("conflict");
  bound_ = true;
  parser_->set_release_when_idle(true);
  deadline_in(services_.limits.idle_timeout);
  watchdog_timer_.cancel();
  start_writer();
  log::info("c2s {}: resumed {}", remote_address_, jid_->str());
  return true;
}

// A module ends the session (RFC 6120 §4.9.3: with a stream error): on the connection that
// carries it; a detached session has none and ends here.
void C2sSession::close(std::string_view condition) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), c = std::string(condition)] {
    std::shared_ptr<C2sSession> carrier;
    bool end_detached = false;
    {
      std::lock_guard lock(self->takeover_mutex_);
      if (self->ended_) return;
      carrier = self->carrier_;
      if (!carrier && self->detached_) {
        self->ended_ = true;
        self->detached_ = false;
        end_detached = true;
      } else if (c != "connection-timeout") {
        // Whatever happens to the connection now (it may drop before it reads the request),
        // the session does not hibernate and is not resumed. A timeout may be resumed.
        self->close_requested_ = true;
      }
    }
    if (end_detached) {
      self->end_session();
    } else if (carrier) {
      carrier->drop_connection(c);
    } else {
      self->drop_connection(c);
    }
  });
}

// XEP-0198 hibernation timeout: decided under the takeover mutex, where a resumption takes
// the session, so the two cannot cross.
void C2sSession::end_if_detached(std::function<bool()> still_due) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), due = std::move(still_due)] {
    {
      std::lock_guard lock(self->takeover_mutex_);
      if (self->ended_ || self->carrier_ || !self->detached_ || !due()) return;
      self->ended_ = true;
      self->detached_ = false;
    }
    self->end_session();
  });
}

// The reader does the closing (no second operation on the TLS stream beside its read):
// cancel its read and leave the condition for it. Recorded also when the connection is
// ending already (its link dropped, its write failed): run() then ends the session rather
// than letting it hibernate. On this connection's thread at once, so that the reader cannot
// end in between.
void C2sSession::drop_connection(std::string condition) {
  if (on_own_thread()) {
    request_close(std::move(condition));
    return;
  }
  asio::post(stream_.get_executor(), [self = shared_from_this(), c = std::move(condition)]() mutable {
    self->request_close(std::move(c));
  });
}

void C2sSession::request_close(std::string condition) {
  if (pending_close_) return;
  pending_close_ = std::move(condition);
  if (closing_) return;
  boost::system::error_code ignored;
  stream_.next_layer().cancel(ignored);
}

void C2sSession::set_presence(bool available, int priority) {
  priority_.store(priority, std::memory_order_relaxed);
  available_.store(available, std::memory_order_relaxed);
}

}  // namespace parley::server::c2s
