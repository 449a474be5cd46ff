#include "federation/s2s_connection.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "federation/s2s_protocol.hpp"
#include "server/log.hpp"
#include "server/xml/serializer.hpp"

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace parley::federation {

namespace xml = server::xml;
namespace log = server::log;

class S2sConnection::Sink final : public xml::StreamParser::Handler {
 public:
  explicit Sink(std::deque<StreamEvent>& events) : events_(events) {}
  void on_stream_open(const xml::StreamHeader& h) override { events_.emplace_back(StreamOpened{h}); }
  void on_stanza(xml::Element&& e) override { events_.emplace_back(std::move(e)); }
  void on_stream_close() override { events_.emplace_back(StreamClosed{}); }
  void on_error(xml::StreamError e) override { events_.emplace_back(std::move(e)); }

 private:
  std::deque<StreamEvent>& events_;
};

S2sConnection::S2sConnection(asio::ip::tcp::socket socket, asio::ssl::context& tls,
                             xml::StreamLimits limits, std::string label)
    : stream_(std::move(socket), tls),
      label_(std::move(label)),
      sink_(std::make_unique<Sink>(events_)),
      parser_(std::make_unique<xml::StreamParser>(*sink_, std::string(xml::kServerNs), limits)),
      buffer_(16 * 1024, '\0'),
      deadline_(std::chrono::steady_clock::time_point::max()),
      watchdog_timer_(stream_.get_executor()) {}

S2sConnection::~S2sConnection() = default;

std::string S2sConnection::remote_address() const {
  boost::system::error_code ec;
  auto ep = stream_.next_layer().remote_endpoint(ec);
  return ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

asio::awaitable<bool> S2sConnection::handshake(bool as_server) {
  // Any certificate passes the handshake (or none, for a peer we connect to); the owner
  // decides what it proves once the handshake is done.
  SSL_set_verify(stream_.native_handle(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  auto type = as_server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
  auto [ec] = co_await stream_.async_handshake(type, as_tuple(use_awaitable));
  if (ec) {
    log::info("{}: TLS handshake failed: {}", label_, ec.message());
    co_return false;
  }
  tls_ = true;
  co_return true;
}

asio::awaitable<StreamEvent> S2sConnection::next() {
  while (events_.empty()) {
    if (closed_) co_return Gone{};
    std::size_t n = 0;
    boost::system::error_code ec;
    if (tls_) {
      std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(buffer_), as_tuple(use_awaitable));
    } else {
      std::tie(ec, n) = co_await stream_.next_layer().async_read_some(asio::buffer(buffer_), as_tuple(use_awaitable));
    }
    if (ec) {
      if (interrupted_ && ec == asio::error::operation_aborted) co_return Gone{};
      if (ec != asio::error::operation_aborted && ec != asio::error::eof &&
          ec != asio::ssl::error::stream_truncated) {
        log::debug("{}: read: {}", label_, ec.message());
      }
      closed_ = true;
      co_return Gone{};
    }
    parser_->feed(std::string_view(buffer_.data(), n));
  }
  StreamEvent ev = std::move(events_.front());
  events_.pop_front();
  co_return ev;
}

asio::awaitable<bool> S2sConnection::write(std::string data) {
  if (closed_) co_return false;
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(data), as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_.next_layer(), asio::buffer(data), as_tuple(use_awaitable));
  }
  if (ec) {
    log::debug("{}: write: {}", label_, ec.message());
    abort();
    co_return false;
  }
  co_return true;
}

void S2sConnection::restart_stream() {
  events_.clear();
  parser_->reset();
}

std::string S2sConnection::goodbye(std::string_view condition, std::string_view text) {
  if (goodbye_sent_) return {};
  goodbye_sent_ = true;
  std::string bye;
  if (!condition.empty()) {
    bye = xml::stream_error(condition, text);
    log::info("{}: stream error {}{}{}", label_, condition, text.empty() ? "" : ": ", text);
  }
  return bye + xml::stream_footer();
}

asio::awaitable<void> S2sConnection::close(std::string_view condition, std::string_view text) {
  if (closed_) co_return;
  deadline_in(std::chrono::seconds(2));
  bool written = true;
  if (!goodbye_sent_) written = co_await write(goodbye(condition, text));
  if (written && tls_) {
    // Our close_notify goes out; the peer's is awaited only until the deadline.
    co_await stream_.async_shutdown(as_tuple(use_awaitable));
  }
  abort();
}

void S2sConnection::abort() {
  closed_ = true;
  boost::system::error_code ec;
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
  watchdog_timer_.cancel();
}

void S2sConnection::interrupt() {
  interrupted_ = true;
  boost::system::error_code ec;
  stream_.next_layer().cancel(ec);
}

void S2sConnection::deadline_in(std::chrono::steady_clock::duration d) {
  auto old = deadline_;
  deadline_ = std::chrono::steady_clock::now() + d;
  if (deadline_ < old) watchdog_timer_.cancel();  // wake the watchdog for the earlier time
}

asio::awaitable<void> S2sConnection::watchdog() {
  for (;;) {
    watchdog_timer_.expires_at(closed_ ? asio::steady_timer::time_point::max() : deadline_);
    co_await watchdog_timer_.async_wait(as_tuple(use_awaitable));
    // Cancelled with its owner (the owner's coroutine ended): done.
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
    // Only the clock decides; after closing, the watchdog waits to be cancelled, so that
    // the owner always finishes its own work.
    if (closed_ || std::chrono::steady_clock::now() < deadline_) continue;
    log::info("{}: timed out", label_);
    timed_out_ = true;
    abort();
  }
}

std::string describe(const StreamEvent& event, bool timed_out) {
  if (std::holds_alternative<Gone>(event)) return timed_out ? "no answer in time" : "the connection was closed";
  if (std::holds_alternative<StreamClosed>(event)) return "the peer closed the stream";
  if (auto* e = std::get_if<xml::StreamError>(&event)) return "bad XML from the peer (" + e->condition + ")";
  if (auto* e = std::get_if<xml::Element>(&event)) {
    if (is_stream_error(*e)) return "stream error from the peer: " + error_summary(*e);
    if (e->ns() == kSaslNs && e->name() == "failure") return "the peer said " + error_summary(*e);
    return "unexpected <" + e->name() + "/> from the peer";
  }
  return "unexpected stream header from the peer";
}

std::string s2s_stream_header(std::string_view from, std::string_view to, std::string_view id, bool dialback) {
  xml::StreamHeader h;
  if (dialback) h.extra_ns.emplace_back("db", std::string(kDialbackNs));
  h.content_ns = std::string(xml::kServerNs);
  h.from = std::string(from);
  h.to = std::string(to);
  h.id = std::string(id);
  h.version = "1.0";
  return xml::stream_header(h);
}

}  // namespace parley::federation
