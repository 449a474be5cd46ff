#include "server/net/tls_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <climits>
#include <csignal>
#include <mutex>
#include <stdexcept>

#include "server/net/tls_stream_state.hpp"

namespace asio = boost::asio;

namespace parley::server::net {

TlsStream::TlsStream(next_layer_type socket, asio::ssl::context& context) : socket_(std::move(socket)) {
  // OpenSSL writes to the socket with write(2): a peer that reset the connection must give
  // EPIPE, not kill the server with SIGPIPE (what asio's own send() avoids with MSG_NOSIGNAL).
  static std::once_flag sigpipe;
  std::call_once(sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  ssl_ = SSL_new(context.native_handle());
  if (ssl_ == nullptr) throw std::bad_alloc();
  // Partial writes and a moving buffer, as asio::ssl::stream sets them (async_write resumes
  // where a partial write stopped); record buffers are freed whenever they are empty.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) {
    SSL_free(ssl_);
    throw std::runtime_error("cannot set up TLS on the socket");
  }
}

TlsStream::~TlsStream() { SSL_free(ssl_); }  // the socket (closed after) is not OpenSSL's; null-safe

std::size_t TlsStream::read_some(asio::mutable_buffer buffer, boost::system::error_code& ec) {
  ec = {};
  std::size_t n = 0;
  int r = perform(Step::read, buffer.data(), buffer.size(), n, ec);
  if (r < 0) ec = asio::error::would_block;
  return r > 0 ? n : 0;
}

int TlsStream::perform(Step step, void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec) {
  n = 0;
  // OpenSSL holds the fd's number, not the socket: once the socket is closed that number may
  // already be another connection's (a client's TLS, a database socket), and an SSL call
  // would read or write there. Every operation ends here instead.
  if (!socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if ((step == Step::read || step == Step::write) && size == 0) return 1;
  if (owned_) return perform_owned(step, data, size, n, ec);
  int len = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
  ERR_clear_error();
  errno = 0;
  int r = 0;
  switch (step) {
    case Step::handshake:
      r = SSL_do_handshake(ssl_);
      break;
    case Step::read:
      r = SSL_read(ssl_, data, len);
      break;
    case Step::write:
      r = SSL_write(ssl_, data, len);
      break;
    case Step::shutdown:
      // The first call sends our close_notify (0: the peer's is still to come); the next
      // ones read until the peer's close_notify arrives (1).
      r = SSL_shutdown(ssl_);
      if (r == 0) r = SSL_shutdown(ssl_);
      if (r == 0) {
        want_ = asio::socket_base::wait_read;
        return -1;
      }
      break;
  }
  int saved_errno = errno;
  if (r > 0) {
    if (step == Step::read || step == Step::write) n = static_cast<std::size_t>(r);
    if (step != Step::read) write_blocked_ = false;
    return 1;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      want_ = asio::socket_base::wait_read;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      want_ = asio::socket_base::wait_write;
      write_blocked_ = true;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;
      return 0;
    case SSL_ERROR_SYSCALL:
      if (unsigned long e = ERR_get_error(); e != 0) {
        ec = boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else if (saved_errno != 0) {
        ec = boost::system::error_code(saved_errno, asio::error::get_system_category());
      } else {
        ec = asio::ssl::error::stream_truncated;
      }
      return 0;
    default: {
      // As asio::ssl::stream reports them: a peer gone without close_notify is
      // stream_truncated, anything else OpenSSL's own error.
      unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = asio::ssl::error::stream_truncated;
      } else if (e != 0) {
        ec = boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else {
        ec = asio::error::fault;
      }
      ERR_clear_error();
      return 0;
    }
  }
}

}  // namespace parley::server::net
