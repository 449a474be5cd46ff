#pragma once
// A TLS stream for connections that spend their life idle (client sessions): OpenSSL reads
// and writes the non-blocking socket itself, so a connection holds no buffer of its own;
// OpenSSL's record buffers are released whenever they are empty (SSL_MODE_RELEASE_BUFFERS).
// asio::ssl::stream keeps, per connection and for its whole life, two 17 KiB buffers plus a
// BIO pair of two 17 KiB rings between OpenSSL and the socket: most of what an idle client
// cost before (docs/profiling.md).
//
// The interface is the part of asio::ssl::stream that sessions use (async handshake, read,
// write, shutdown; next_layer(); native_handle()), so asio::async_write works on it, plus a
// non-blocking read_some() for a reader that waits for the socket without holding a buffer.
// Completion handlers are never called from inside the initiating function.
//
// Threads: like a socket, one operation of each kind at a time, from the socket's
// executor (a session's reader and writer may interleave, as with asio::ssl::stream).
//
// A server connection may go further once TLS 1.3 is up and it is idle: take_over_records()
// frees OpenSSL's per-connection object (~15 KiB) and protects the records itself
// (tls13_records.hpp), with the traffic secrets OpenSSL derived and the record counts it
// reported while it ran the connection (tls_stream_takeover.cpp).

#include <openssl/ssl.h>

#include <boost/asio/append.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "server/net/tls13_records.hpp"

namespace parley::server::net {

class TlsStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = boost::asio::ip::tcp::socket;
  using lowest_layer_type = next_layer_type::lowest_layer_type;

  /// Takes the connected socket (and makes it non-blocking); TLS starts with async_handshake.
  TlsStream(next_layer_type socket, boost::asio::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  /// OpenSSL's object; null once take_over_records() freed it.
  SSL* native_handle() { return ssl_; }

  /// Server connections, before the handshake: lets take_over_records() work later. The
  /// context must have capture_traffic_secrets() installed (TlsContexts does).
  void prepare_record_takeover();
  /// Frees OpenSSL's object and protects the records here from now on. Only for TLS 1.3
  /// with one of Tls13Records' suites, after the handshake, when nothing is half read or
  /// half written, and when no key update happened under OpenSSL. True when done (or done
  /// before); false when not possible now (try again at the next idle moment) or at all.
  /// `update_after`: records sent under one key before a KeyUpdate of ours (tests lower it).
  bool take_over_records(std::uint64_t update_after = Tls13Records::kUpdateAfter);
  bool records_taken_over() const { return owned_ != nullptr; }
  /// Hands the TLS 1.3 traffic secrets of a context's connections to those that called
  /// prepare_record_takeover() (OpenSSL's key-log hook; nothing is logged anywhere).
  static void capture_traffic_secrets(SSL_CTX* context);

  /// One SSL_read without waiting: the bytes read, or 0 with `ec` set: would_block when the
  /// socket has no complete record (wait for wait_needed(), then call again), eof after the
  /// peer's close_notify, stream_truncated when the peer left without one, else the error.
  /// Like every operation here, bad_descriptor once the socket is closed: OpenSSL knows only
  /// the fd's number, which the system may have given to another socket since.
  std::size_t read_some(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
  /// What the last would_block waits for: readable, or writable (a reply OpenSSL must send,
  /// such as a TLS 1.3 key update, did not fit in the socket).
  boost::asio::socket_base::wait_type wait_needed() const { return want_; }

  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    if (type == boost::asio::ssl::stream_base::server) {
      SSL_set_accept_state(ssl_);
    } else {
      SSL_set_connect_state(ssl_);
    }
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        Op<false>{*this, Step::handshake}, token, socket_);
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        Op<false>{*this, Step::shutdown}, token, socket_);
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    auto b = first_buffer<boost::asio::mutable_buffer>(buffers);
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op<true>{*this, Step::read, b.data(), b.size()}, token, socket_);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    auto b = first_buffer<boost::asio::const_buffer>(buffers);
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op<true>{*this, Step::write, const_cast<void*>(b.data()), b.size()}, token, socket_);
  }

 private:
  enum class Step { handshake, read, write, shutdown };
  struct Capture;  // what take_over_records() needs, gathered while OpenSSL runs
  struct Owned;    // the connection's TLS state once taken over
  enum class Next { data, would_block, closed, error };

  /// One OpenSSL call: 1 when done (bytes in `n`), 0 on an error (in `ec`), -1 when it must
  /// wait for the socket (want_ says how).
  int perform(Step step, void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec);
  // The same once taken over (tls_stream_takeover.cpp).
  int perform_owned(Step step, void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec);
  Next next_record(std::string_view& content, boost::system::error_code& ec);
  bool flush_owned(boost::system::error_code& ec);
  bool on_handshake_message(std::string_view content);
  void send_key_update(bool request);
  void seal_alert(unsigned char level, unsigned char description);
  Next fail(unsigned char alert, boost::system::error_code& ec);
  static void on_keylog(const SSL* ssl, const char* line);
  static void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len, SSL* ssl,
                         void* arg);

  template <class Buffer, class Buffers>
  static Buffer first_buffer(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      Buffer b(*it);
      if (b.size() != 0) return b;
    }
    return Buffer();
  }

  // The state machine of every operation: call OpenSSL, wait for the socket as it asks,
  // call again. A result known at once still completes through the executor. kCount: the
  // completion reports the bytes transferred (read, write) or only the error.
  template <bool kCount>
  struct Op {
    TlsStream& stream;
    Step step;
    void* data = nullptr;
    std::size_t size = 0;
    bool waited = false;
    bool done = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      if (!done && !ec) {
        int r = stream.perform(step, data, size, n, ec);
        if (r < 0) {
          waited = true;
          stream.socket_.async_wait(stream.want_, std::move(self));
          return;
        }
      }
      if (!done && !waited) {
        done = true;
        auto ex = stream.socket_.get_executor();
        boost::asio::post(ex, boost::asio::append(std::move(self), ec, n));
        return;
      }
      if constexpr (kCount) {
        self.complete(ec, n);
      } else {
        self.complete(ec);
      }
    }
  };

  next_layer_type socket_;
  SSL* ssl_ = nullptr;
  boost::asio::socket_base::wait_type want_ = boost::asio::socket_base::wait_read;
  bool write_blocked_ = false;  // OpenSSL holds a record the socket did not take yet
  std::unique_ptr<Capture> capture_;
  std::unique_ptr<Owned> owned_;
};

}  // namespace parley::server::net
