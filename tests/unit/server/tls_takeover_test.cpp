// TlsStream::take_over_records (server/net/tls_stream_takeover.cpp, tls13_records.cpp): once
// a TLS 1.3 connection is up, the stream frees OpenSSL's object and protects the records
// itself. Checked against OpenSSL as the client: what either side sends after the takeover
// must reach the other intact, through key updates, for every suite parley allows, and bad
// records must end the connection with the right alert. The client is an SSL on a BIO pair
// whose bytes the test moves to and from the server's socket, so it can also cut them up.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "server/config.hpp"
#include "server/dev_certs.hpp"
#include "server/net/tls.hpp"
#include "server/net/tls_stream.hpp"

namespace parley::server::net {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}

class TlsTakeover : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("parley-tls-takeover-" + std::to_string(::getpid())));
    write_dev_certificates(*dir_, {"localhost"});
    Config config;
    config.tls.certificate = *dir_ / "localhost.pem";
    config.tls.private_key = *dir_ / "localhost.key";
    contexts_ = new TlsContexts(config);
  }
  static void TearDownTestSuite() {
    delete contexts_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  void TearDown() override {
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
    server_.reset();
    if (raw_ >= 0) ::close(raw_);
  }

  // A server TlsStream on one end of a socketpair; the client SSL talks through `raw_`.
  void connect(const char* suites = nullptr, int max_version = TLS1_3_VERSION) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    raw_ = fds[1];
    asio::ip::tcp::socket socket(io_);
    socket.assign(asio::ip::tcp::v4(), fds[0]);
    server_ = std::make_unique<TlsStream>(std::move(socket), contexts_->server(false));
    server_->prepare_record_takeover();
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(client_ctx_, max_version);
    if (suites != nullptr) ASSERT_EQ(SSL_CTX_set_ciphersuites(client_ctx_, suites), 1);
    client_ = SSL_new(client_ctx_);
    BIO* inside = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&inside, 0, &net_, 0), 1);
    SSL_set_bio(client_, inside, inside);
    SSL_set_connect_state(client_);
    // Counts the KeyUpdate messages the client receives.
    SSL_set_msg_callback(client_, [](int write_p, int, int type, const void* buf, std::size_t len, SSL*, void* arg) {
      if (write_p == 0 && type == SSL3_RT_HANDSHAKE && len > 0 &&
          *static_cast<const unsigned char*>(buf) == SSL3_MT_KEY_UPDATE) {
        ++*static_cast<int*>(arg);
      }
    });
    SSL_set_msg_callback_arg(client_, &key_updates_received_);
    SSL_set_tlsext_host_name(client_, "localhost");

    bool server_done = false;
    boost::system::error_code server_ec;
    server_->async_handshake(asio::ssl::stream_base::server, [&](boost::system::error_code ec) {
      server_done = true;
      server_ec = ec;
    });
    bool client_done = false;
    for (int i = 0; i < 10000 && !(server_done && client_done); ++i) {
      if (!client_done) client_done = SSL_do_handshake(client_) == 1;
      pump();
    }
    ASSERT_TRUE(server_done && client_done);
    ASSERT_FALSE(server_ec) << server_ec.message();
  }

  // Moves what the client wrote to the server (at most `chunk` bytes) and what the server
  // wrote to the client, and runs the server's handlers.
  void pump(std::size_t chunk = 1 << 20) {
    char buf[64 * 1024];
    int pending = BIO_ctrl_pending(net_);
    if (pending > 0) {
      int n = BIO_read(net_, buf, static_cast<int>(std::min<std::size_t>({sizeof buf, chunk, std::size_t(pending)})));
      if (n > 0) ASSERT_EQ(::write(raw_, buf, n), n);
    }
    for (;;) {
      int room = static_cast<int>(BIO_ctrl_get_write_guarantee(net_));
      if (room <= 0) break;
      ssize_t n = ::read(raw_, buf, std::min<std::size_t>(sizeof buf, room));
      if (n <= 0) break;
      ASSERT_EQ(BIO_write(net_, buf, static_cast<int>(n)), n);
    }
    io_.restart();
    io_.poll();
  }

  void client_write(const std::string& data) {
    std::size_t at = 0;
    for (int i = 0; i < 100000 && at < data.size(); ++i) {
      int n = SSL_write(client_, data.data() + at, static_cast<int>(data.size() - at));
      if (n > 0) at += static_cast<std::size_t>(n);
      pump();
    }
    ASSERT_EQ(at, data.size());
    pump();
  }

  // Reads what the client can now; false once the client failed or the stream ended.
  bool drain_client() {
    char buf[16 * 1024];
    for (;;) {
      int n = SSL_read(client_, buf, sizeof buf);
      if (n > 0) {
        client_got_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      return SSL_get_error(client_, n) == SSL_ERROR_WANT_READ;
    }
  }

  std::string client_read(std::size_t want) {
    for (int i = 0; i < 100000 && client_got_.size() < want; ++i) {
      pump();
      if (!drain_client()) break;
    }
    std::string got = client_got_.substr(0, want);
    client_got_.erase(0, got.size());
    return got;
  }

  // What the server reads, until `want` bytes or an error (in ec).
  std::string server_read(std::size_t want, boost::system::error_code& ec, std::size_t chunk = 1 << 20) {
    std::string got;
    char buf[16 * 1024];
    for (int i = 0; i < 200000 && got.size() < want; ++i) {
      pump(chunk);
      std::size_t n = server_->read_some(asio::buffer(buf), ec);
      got.append(buf, n);
      if (ec == asio::error::would_block) {
        ec.clear();
        continue;
      }
      if (ec) break;
    }
    return got;
  }
  std::string server_read(std::size_t want) {
    boost::system::error_code ec;
    auto got = server_read(want, ec);
    EXPECT_FALSE(ec) << ec.message();
    return got;
  }

  void server_write(const std::string& data) {
    bool done = false;
    boost::system::error_code ec;
    asio::async_write(*server_, asio::buffer(data), [&](boost::system::error_code e, std::size_t) {
      done = true;
      ec = e;
    });
    for (int i = 0; i < 100000 && !done; ++i) {
      pump();
      drain_client();  // the client must read for the socket to drain
    }
    ASSERT_TRUE(done);
    ASSERT_FALSE(ec) << ec.message();
  }

  // A few records each way under OpenSSL first, so both sequence numbers are past zero.
  void talk_under_openssl() {
    client_write("<stream:stream>");
    EXPECT_EQ(server_read(15), "<stream:stream>");
    server_write("<features/>");
    EXPECT_EQ(client_read(11), "<features/>");
    client_write("<auth/>");
    EXPECT_EQ(server_read(7), "<auth/>");
  }

  static fs::path* dir_;
  static TlsContexts* contexts_;
  asio::io_context io_;
  std::unique_ptr<TlsStream> server_;
  int raw_ = -1;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  BIO* net_ = nullptr;
  std::string client_got_;
  int key_updates_received_ = 0;
};

fs::path* TlsTakeover::dir_ = nullptr;
TlsContexts* TlsTakeover::contexts_ = nullptr;

class TlsTakeoverSuites : public TlsTakeover, public ::testing::WithParamInterface<const char*> {};

TEST_P(TlsTakeoverSuites, RecordsFlowBothWaysAfterOpenSslIsFreed) {
  connect(GetParam());
  talk_under_openssl();
  ASSERT_TRUE(server_->take_over_records());
  EXPECT_TRUE(server_->records_taken_over());
  EXPECT_EQ(server_->native_handle(), nullptr);

  auto up = pattern(40000, 'a');  // three records, split by the client
  client_write(up);
  EXPECT_EQ(server_read(up.size()), up);
  auto down = pattern(150000, 'k');  // ten records, in two writes of ours
  server_write(down);
  EXPECT_EQ(client_read(down.size()), down);
  client_write("<presence/>");
  EXPECT_EQ(server_read(11), "<presence/>");
}

INSTANTIATE_TEST_SUITE_P(EverySuiteOfThePolicy, TlsTakeoverSuites,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

TEST_F(TlsTakeover, RightAfterTheHandshakeTheSessionTicketsAreCounted) {
  connect();
  ASSERT_TRUE(server_->take_over_records());
  client_write("<stream:stream>");
  EXPECT_EQ(server_read(15), "<stream:stream>");
  server_write("<features/>");
  EXPECT_EQ(client_read(11), "<features/>");
}

TEST_F(TlsTakeover, AClientKeyUpdateIsFollowedAndAnswered) {
  connect();
  talk_under_openssl();
  ASSERT_TRUE(server_->take_over_records());
  // update_requested: we must update our own keys too, before our next data.
  ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_REQUESTED), 1);
  client_write("<message>one</message>");
  EXPECT_EQ(server_read(22), "<message>one</message>");
  server_write("<message>two</message>");
  EXPECT_EQ(client_read(22), "<message>two</message>");
  EXPECT_EQ(key_updates_received_, 1);  // ours, before "two"
  ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  client_write("<message>three</message>");
  EXPECT_EQ(server_read(24), "<message>three</message>");
  server_write("<message>four</message>");
  EXPECT_EQ(client_read(23), "<message>four</message>");
  EXPECT_EQ(key_updates_received_, 1);  // none asked for this time
}

TEST_F(TlsTakeover, OurKeysAreUpdatedAfterTheirRecordLimit) {
  connect();
  ASSERT_TRUE(server_->take_over_records(/*update_after=*/3));
  std::string all;
  for (int i = 0; i < 10; ++i) {
    auto piece = "<iq id='" + std::to_string(i) + "'/>";
    server_write(piece);
    all += piece;
  }
  EXPECT_EQ(client_read(all.size()), all);
  // Records 3, 6 and 9 under a key (the session ticket counts): three updates of ours.
  EXPECT_GE(key_updates_received_, 3);
}

TEST_F(TlsTakeover, ARecordArrivingOneByteAtATimeIsReadWhole) {
  connect();
  talk_under_openssl();
  ASSERT_TRUE(server_->take_over_records());
  const std::string stanza = "<message to='juliet@localhost'><body>hi</body></message>";
  ASSERT_EQ(SSL_write(client_, stanza.data(), static_cast<int>(stanza.size())), static_cast<int>(stanza.size()));
  std::size_t record = static_cast<std::size_t>(BIO_ctrl_pending(net_));
  char buf[1024];
  boost::system::error_code ec;
  for (std::size_t i = 0; i + 1 < record; ++i) {
    pump(1);
    EXPECT_EQ(server_->read_some(asio::buffer(buf), ec), 0u) << "after byte " << i;
    EXPECT_EQ(ec, asio::error::would_block) << "after byte " << i;
  }
  pump(1);
  std::size_t n = server_->read_some(asio::buffer(buf), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(buf, n), stanza);
}

TEST_F(TlsTakeover, AReaderBufferSmallerThanARecordGetsTheRestNext) {
  connect();
  ASSERT_TRUE(server_->take_over_records());
  auto data = pattern(1000, 'x');
  client_write(data);
  std::string got;
  char small[100];
  boost::system::error_code ec;
  for (int i = 0; i < 1000 && got.size() < data.size(); ++i) {
    pump();
    std::size_t n = server_->read_some(asio::buffer(small), ec);
    EXPECT_LE(n, sizeof small);
    got.append(small, n);
  }
  EXPECT_EQ(got, data);
}

TEST_F(TlsTakeover, CloseNotifyEndsTheStreamBothWays) {
  connect();
  ASSERT_TRUE(server_->take_over_records());
  client_write("</stream:stream>");
  EXPECT_EQ(server_read(16), "</stream:stream>");
  SSL_shutdown(client_);  // the client's close_notify
  boost::system::error_code ec;
  server_read(1, ec);
  EXPECT_EQ(ec, asio::error::eof);

  bool done = false;
  boost::system::error_code shutdown_ec;
  server_->async_shutdown([&](boost::system::error_code e) {
    done = true;
    shutdown_ec = e;
  });
  for (int i = 0; i < 1000 && !done; ++i) pump();
  EXPECT_TRUE(done);
  EXPECT_FALSE(shutdown_ec) << shutdown_ec.message();
  char buf[16];
  pump();
  int n = SSL_read(client_, buf, sizeof buf);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(client_, n), SSL_ERROR_ZERO_RETURN);  // our close_notify arrived
}

TEST_F(TlsTakeover, AShutdownDoesNotWaitForAPeerThatKeepsSending) {
  connect();
  ASSERT_TRUE(server_->take_over_records());
  bool done = false;
  boost::system::error_code shutdown_ec;
  server_->async_shutdown([&](boost::system::error_code e) {
    done = true;
    shutdown_ec = e;
  });
  // No close_notify, only data: dropped while we wait, up to 1 MiB, then we stop waiting.
  std::string chunk(16 * 1024, 'f');
  int sent = 0;
  for (; sent < 200 && !done; ++sent) {
    SSL_write(client_, chunk.data(), static_cast<int>(chunk.size()));
    pump();
  }
  EXPECT_TRUE(done);
  EXPECT_GT(sent, 32);   // what arrived first was read, not left to reset the connection
  EXPECT_LT(sent, 100);  // and a flood was not waited out
  EXPECT_FALSE(shutdown_ec) << shutdown_ec.message();
  EXPECT_FALSE(drain_client());
  EXPECT_EQ(SSL_get_error(client_, 0), SSL_ERROR_ZERO_RETURN);  // our close_notify arrived
}

class TlsTakeoverBadInput : public TlsTakeover {
 protected:
  // Sends `bytes` to the server as if from the client; returns the alert description the
  // client then receives (-1 if none) and the server's error in `server_ec`.
  int alert_after(const std::string& bytes, boost::system::error_code& server_ec) {
    connect();
    talk_under_openssl();
    EXPECT_TRUE(server_->take_over_records());
    EXPECT_EQ(::write(raw_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    server_read(1, server_ec);
    char buf[16];
    pump();
    ERR_clear_error();
    int n = SSL_read(client_, buf, sizeof buf);
    if (n > 0 || SSL_get_error(client_, n) != SSL_ERROR_SSL) return -1;
    int reason = ERR_GET_REASON(ERR_peek_error());
    ERR_clear_error();
    return reason - SSL_AD_REASON_OFFSET;
  }
};

TEST_F(TlsTakeoverBadInput, AnAlteredRecordIsABadRecordMac) {
  connect();
  talk_under_openssl();
  ASSERT_TRUE(server_->take_over_records());
  std::string stanza = "<presence/>";
  ASSERT_GT(SSL_write(client_, stanza.data(), static_cast<int>(stanza.size())), 0);
  std::string record(static_cast<std::size_t>(BIO_ctrl_pending(net_)), '\0');
  ASSERT_EQ(BIO_read(net_, record.data(), static_cast<int>(record.size())), static_cast<int>(record.size()));
  record[8] ^= 0x01;  // one bit of the ciphertext
  ASSERT_EQ(::write(raw_, record.data(), record.size()), static_cast<ssize_t>(record.size()));
  boost::system::error_code ec;
  EXPECT_EQ(server_read(1, ec), "");
  EXPECT_EQ(ec, boost::system::errc::bad_message);
  char buf[16];
  pump();
  int n = SSL_read(client_, buf, sizeof buf);
  ASSERT_EQ(SSL_get_error(client_, n), SSL_ERROR_SSL);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), SSL_AD_REASON_OFFSET + SSL_AD_BAD_RECORD_MAC);
  // And it stays failed.
  server_read(1, ec);
  EXPECT_EQ(ec, boost::system::errc::bad_message);
}

TEST_F(TlsTakeoverBadInput, AChangeCipherSpecAfterTheHandshakeIsUnexpected) {
  boost::system::error_code ec;
  EXPECT_EQ(alert_after(std::string("\x14\x03\x03\x00\x01\x01", 6), ec), SSL_AD_UNEXPECTED_MESSAGE);
  EXPECT_EQ(ec, boost::system::errc::protocol_error);
}

TEST_F(TlsTakeoverBadInput, ARecordOverTheLimitIsAnOverflow) {
  boost::system::error_code ec;
  // 2^14 + 257 bytes announced: one more than a TLS 1.3 record may carry.
  EXPECT_EQ(alert_after(std::string("\x17\x03\x03\x41\x01", 5), ec), SSL_AD_RECORD_OVERFLOW);
  EXPECT_EQ(ec, boost::system::errc::protocol_error);
}

TEST_F(TlsTakeoverBadInput, APeerLeavingWithoutCloseNotifyIsATruncation) {
  connect();
  ASSERT_TRUE(server_->take_over_records());
  ::shutdown(raw_, SHUT_WR);
  boost::system::error_code ec;
  server_read(1, ec);
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated);
}

TEST_F(TlsTakeover, TlsTwelveStaysWithOpenSsl) {
  connect(nullptr, TLS1_2_VERSION);
  EXPECT_FALSE(server_->take_over_records());
  EXPECT_NE(server_->native_handle(), nullptr);
  client_write("<stream:stream>");
  EXPECT_EQ(server_read(15), "<stream:stream>");
}

TEST_F(TlsTakeover, AKeyUpdateUnderOpenSslKeepsTheConnectionWithIt) {
  connect();
  ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  client_write("<auth/>");
  EXPECT_EQ(server_read(7), "<auth/>");
  EXPECT_FALSE(server_->take_over_records());
  server_write("<success/>");
  EXPECT_EQ(client_read(10), "<success/>");
}

TEST_F(TlsTakeover, NotWhileARecordIsHalfRead) {
  connect();
  talk_under_openssl();
  const std::string stanza = "<presence/>";
  ASSERT_GT(SSL_write(client_, stanza.data(), static_cast<int>(stanza.size())), 0);
  pump(8);  // the header and a little of the record
  char buf[64];
  boost::system::error_code ec;
  EXPECT_EQ(server_->read_some(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
  EXPECT_FALSE(server_->take_over_records());  // OpenSSL holds part of a record: not now
  EXPECT_EQ(server_read(stanza.size()), stanza);
  EXPECT_TRUE(server_->take_over_records());  // later it may
  client_write("<iq/>");
  EXPECT_EQ(server_read(5), "<iq/>");
}

}  // namespace
}  // namespace parley::server::net
