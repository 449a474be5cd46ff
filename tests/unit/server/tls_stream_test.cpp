// server/net/tls_stream.hpp: OpenSSL reads and writes the socket's fd itself, so once the
// socket is closed the stream must not touch that fd number again: the system hands it to
// the next socket opened (another client's connection, a database socket). Sockets here are
// socketpairs: no network.
#include "server/net/tls_stream.hpp"

#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

namespace parley::server::net {
namespace {

namespace asio = boost::asio;

int bytes_waiting(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

TEST(TlsStream, AfterTheSocketClosesNothingTouchesTheFdNumberItHad) {
  asio::io_context io;
  asio::ssl::context context(asio::ssl::context::tls_server);
  int ours[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ours), 0);
  asio::ip::tcp::socket socket(io);
  socket.assign(asio::ip::tcp::v4(), ours[0]);
  TlsStream stream(std::move(socket), context);
  SSL_set_accept_state(stream.native_handle());  // the next SSL call would read a ClientHello
  const int number = ours[0];
  stream.next_layer().close();  // a watchdog, a failed write or close() shut it

  // Another connection opens and gets the same fd number; its peer has sent something.
  int other[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
  ASSERT_EQ(dup2(other[0], number), number);
  ASSERT_EQ(write(other[1], "hello", 5), 5);

  std::array<char, 64> buffer{};
  boost::system::error_code ec;
  EXPECT_EQ(stream.read_some(asio::buffer(buffer), ec), 0u);
  EXPECT_EQ(ec, asio::error::bad_descriptor);
  boost::system::error_code async_ec;
  std::size_t async_n = 1;
  stream.async_write_some(asio::buffer("x", 1), [&](boost::system::error_code e, std::size_t n) {
    async_ec = e;
    async_n = n;
  });
  boost::system::error_code shutdown_ec;
  stream.async_shutdown([&](boost::system::error_code e) { shutdown_ec = e; });
  io.run();
  EXPECT_EQ(async_ec, asio::error::bad_descriptor);
  EXPECT_EQ(async_n, 0u);
  EXPECT_EQ(shutdown_ec, asio::error::bad_descriptor);

  // The other connection's bytes are still there, and nothing was written to it.
  EXPECT_EQ(bytes_waiting(number), 5);
  EXPECT_EQ(bytes_waiting(other[1]), 0);
  close(number);
  close(other[0]);
  close(other[1]);
  close(ours[1]);
}

}  // namespace
}  // namespace parley::server::net
