// TlsStream without OpenSSL's per-connection object: the takeover after a TLS 1.3 handshake,
// and reading, writing and closing through Tls13Records (RFC 8446 §5, §4.6.3, §6).
//
// What OpenSSL leaves behind is gathered while it runs the connection. Its key-log hook gives
// the first application traffic secrets (the only public way to them in OpenSSL 3.0); its
// message hook reports every record header it reads or writes, and every handshake message.
// The records each side protected since its Finished are the sequence numbers to go on
// from. A KeyUpdate under OpenSSL, TLS 1.2, or another suite leave the connection to OpenSSL.
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ssl/error.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/net/tls_stream.hpp"
#include "server/net/tls_stream_state.hpp"

namespace asio = boost::asio;

namespace parley::server::net {
namespace {

// Alert descriptions (RFC 8446 §6).
constexpr unsigned char kCloseNotify = 0;
constexpr unsigned char kUnexpectedMessage = 10;
constexpr unsigned char kBadRecordMac = 20;
constexpr unsigned char kRecordOverflow = 22;
constexpr unsigned char kDecodeError = 50;
constexpr unsigned char kUserCanceled = 90;

constexpr std::size_t kInCapacity = 2 * Tls13Records::kMaxRecord;
constexpr std::size_t kWriteChunk = 4 * Tls13Records::kMaxContent;  // per write call
constexpr std::size_t kShutdownDiscard = 1024 * 1024;  // dropped while waiting for close_notify

int capture_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

boost::system::error_code system_error(int e) { return {e, boost::system::system_category()}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// "<LABEL> <client_random hex> <secret hex>" (the NSS key log format OpenSSL writes).
void TlsStream::on_keylog(const SSL* ssl, const char* line) {
  auto* capture = static_cast<Capture*>(SSL_get_ex_data(ssl, capture_index()));
  if (capture == nullptr) return;
  std::string_view text(line);
  auto label_end = text.find(' ');
  if (label_end == std::string_view::npos) return;
  auto label = text.substr(0, label_end);
  unsigned char* secret = nullptr;
  std::size_t* length = nullptr;
  if (label == "CLIENT_TRAFFIC_SECRET_0") {
    secret = capture->client_secret.data();
    length = &capture->client_len;
  } else if (label == "SERVER_TRAFFIC_SECRET_0") {
    secret = capture->server_secret.data();
    length = &capture->server_len;
  } else {
    return;
  }
  auto secret_at = text.find(' ', label_end + 1);
  if (secret_at == std::string_view::npos) return;
  auto digits = text.substr(secret_at + 1);
  if (digits.size() % 2 != 0 || digits.size() / 2 > capture->client_secret.size()) return;
  for (std::size_t i = 0; i < digits.size() / 2; ++i) {
    int hi = hex_value(digits[2 * i]);
    int lo = hex_value(digits[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      *length = 0;
      return;
    }
    secret[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  *length = digits.size() / 2;
}

void TlsStream::on_message(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len,
                       SSL* /*ssl*/, void* arg) {
  auto* capture = static_cast<Capture*>(arg);
  if (capture == nullptr) return;
  if (content_type == SSL3_RT_HEADER) {
    // One per record read or written, whatever it carries.
    if (write_p != 0 && capture->server_finished) ++capture->sent;
    if (write_p == 0 && capture->client_finished) ++capture->received;
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  // A message is reported after the record that carried it: the count starts after it.
  auto type = *static_cast<const unsigned char*>(buf);
  if (type == SSL3_MT_FINISHED && write_p != 0) {
    capture->server_finished = true;
    capture->sent = 0;
  } else if (type == SSL3_MT_FINISHED) {
    capture->client_finished = true;
    capture->received = 0;
  } else if (type == SSL3_MT_KEY_UPDATE) {
    capture->key_update = true;
  }
}

void TlsStream::capture_traffic_secrets(SSL_CTX* context) { SSL_CTX_set_keylog_callback(context, on_keylog); }

void TlsStream::prepare_record_takeover() {
  if (ssl_ == nullptr || capture_) return;
  capture_ = std::make_unique<Capture>();
  SSL_set_ex_data(ssl_, capture_index(), capture_.get());
  SSL_set_msg_callback(ssl_, on_message);
  SSL_set_msg_callback_arg(ssl_, capture_.get());
}

bool TlsStream::take_over_records(std::uint64_t update_after) {
  if (owned_) return true;
  if (!capture_ || ssl_ == nullptr || !socket_.is_open()) return false;
  if (SSL_is_init_finished(ssl_) != 1) return false;  // later
  const Capture& c = *capture_;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  auto suite = cipher ? SSL_CIPHER_get_protocol_id(cipher) : 0;
  bool possible = SSL_version(ssl_) == TLS1_3_VERSION && Tls13Records::supported(suite) && !c.key_update &&
                  c.server_finished && c.client_finished && c.client_len != 0 && c.client_len == c.server_len &&
                  SSL_get_shutdown(ssl_) == 0;
  if (!possible) {
    // Never for this connection: OpenSSL keeps it, without the callbacks.
    SSL_set_msg_callback(ssl_, nullptr);
    SSL_set_ex_data(ssl_, capture_index(), nullptr);
    capture_.reset();
    return false;
  }
  if (SSL_has_pending(ssl_) == 1 || write_blocked_) return false;  // a record half through
  auto secret = [](const std::array<unsigned char, 48>& s, std::size_t n) {
    return std::string_view(reinterpret_cast<const char*>(s.data()), n);
  };
  owned_ = std::make_unique<Owned>(suite, secret(c.client_secret, c.client_len), c.received,
                                   secret(c.server_secret, c.server_len), c.sent, update_after);
  capture_.reset();
  SSL_free(ssl_);  // the socket BIO does not close the fd
  ssl_ = nullptr;
  return true;
}

bool TlsStream::flush_owned(boost::system::error_code& ec) {
  Owned& o = *owned_;
  while (o.out_pos < o.out.size()) {
    ssize_t r = ::send(socket_.native_handle(), o.out.data() + o.out_pos, o.out.size() - o.out_pos, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) ec = system_error(errno);
      return false;
    }
    o.out_pos += static_cast<std::size_t>(r);
  }
  std::string().swap(o.out);  // nothing held while idle
  o.out_pos = 0;
  return true;
}

// Queues our alert (level 1 warning, 2 fatal); nothing is sent after it (close_sent).
void TlsStream::seal_alert(unsigned char level, unsigned char description) {
  const unsigned char alert[2] = {level, description};
  owned_->close_sent = true;
  owned_->records.seal(RecordType::alert, std::string_view(reinterpret_cast<const char*>(alert), 2), owned_->out);
}

// A fatal error of ours: the alert goes out if the socket takes it, and the connection is
// done; every later operation reports the same error (bad_message for a record that did
// not authenticate, protocol_error for the others).
TlsStream::Next TlsStream::fail(unsigned char alert, boost::system::error_code& ec) {
  Owned& o = *owned_;
  if (!o.failed) {
    o.failed = make_error_code(alert == kBadRecordMac ? boost::system::errc::bad_message
                                                      : boost::system::errc::protocol_error);
    if (!o.close_sent) {
      seal_alert(2, alert);
      boost::system::error_code ignored;
      flush_owned(ignored);
    }
  }
  ec = o.failed;
  return Next::error;
}

void TlsStream::send_key_update(bool request) {
  const unsigned char message[5] = {SSL3_MT_KEY_UPDATE, 0, 0, 1, static_cast<unsigned char>(request ? 1 : 0)};
  owned_->records.seal(RecordType::handshake, std::string_view(reinterpret_cast<const char*>(message), 5),
                       owned_->out);
  owned_->records.update_out();
}

// After the handshake a client may send only KeyUpdate (RFC 8446 §4.6.3; we never ask for a
// certificate after the handshake), and it ends its record: the next one is under the new key.
bool TlsStream::on_handshake_message(std::string_view m) {
  if (m.size() != 5 || static_cast<unsigned char>(m[0]) != SSL3_MT_KEY_UPDATE || m[1] != 0 || m[2] != 0 ||
      m[3] != 1 || static_cast<unsigned char>(m[4]) > 1) {
    return false;
  }
  owned_->records.update_in();
  if (m[4] == 1 && !owned_->close_sent) {
    // update_requested: ours goes before our next application data (queued behind what is
    // already protected; the next flush sends it).
    send_key_update(false);
    boost::system::error_code ignored;
    flush_owned(ignored);
  }
  return true;
}

// The next record with application data from what arrived and what the socket has now.
// `content` points into the input buffer until the next call.
TlsStream::Next TlsStream::next_record(std::string_view& content, boost::system::error_code& ec) {
  Owned& o = *owned_;
  for (;;) {
    std::string_view have(o.in.get() + o.in_begin, o.in_end - o.in_begin);
    std::size_t size = Tls13Records::record_size(have);
    if (size > Tls13Records::kMaxRecord) {
      return fail(kRecordOverflow, ec);
    }
    if (size != 0 && have.size() >= size) {
      RecordType type{};
      std::string_view c;
      auto opened = o.records.open(o.in.get() + o.in_begin, size, type, c);
      o.in_begin += size;
      switch (opened) {
        case Tls13Records::Opened::ok:
          break;
        case Tls13Records::Opened::bad_record_mac:
          return fail(kBadRecordMac, ec);
        case Tls13Records::Opened::record_overflow:
          return fail(kRecordOverflow, ec);
        case Tls13Records::Opened::unexpected_message:
          return fail(kUnexpectedMessage, ec);
      }
      if (type == RecordType::application_data) {
        if (c.empty()) continue;
        content = c;
        return Next::data;
      }
      if (type == RecordType::handshake) {
        if (!on_handshake_message(c)) {
          return fail(kUnexpectedMessage, ec);
        }
        continue;
      }
      // An alert: close_notify ends the stream; user_canceled is a warning before it; any
      // other is the peer's fatal error.
      if (c.size() != 2) return fail(kDecodeError, ec);
      auto description = static_cast<unsigned char>(c[1]);
      if (description == kUserCanceled) continue;
      if (description == kCloseNotify) {
        o.peer_closed = true;
        return Next::closed;
      }
      o.failed = make_error_code(boost::system::errc::connection_aborted);
      ec = o.failed;
      return Next::error;
    }
    // More bytes are needed: into the buffer, after what is left of a record begun.
    if (!o.in) {
      o.in = std::make_unique<char[]>(kInCapacity);
      o.in_begin = o.in_end = 0;
    } else if (o.in_begin > 0) {
      std::memmove(o.in.get(), o.in.get() + o.in_begin, o.in_end - o.in_begin);
      o.in_end -= o.in_begin;
      o.in_begin = 0;
    }
    ssize_t r = ::read(socket_.native_handle(), o.in.get() + o.in_end, kInCapacity - o.in_end);
    if (r > 0) {
      o.in_end += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (o.in_begin == o.in_end) o.in.reset();  // nothing held while idle
      return Next::would_block;
    }
    // The peer left without close_notify (or the socket failed).
    o.failed = r == 0 ? boost::system::error_code(asio::ssl::error::stream_truncated) : system_error(errno);
    ec = o.failed;
    return Next::error;
  }
}

int TlsStream::perform_owned(Step step, void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec) {
  Owned& o = *owned_;
  if (step == Step::read && o.plain_pos < o.plain.size()) {
    n = std::min(size, o.plain.size() - o.plain_pos);
    std::memcpy(data, o.plain.data() + o.plain_pos, n);
    o.plain_pos += n;
    if (o.plain_pos == o.plain.size()) {
      std::string().swap(o.plain);
      o.plain_pos = 0;
    }
    return 1;
  }
  if (step == Step::read && o.peer_closed) {
    ec = asio::error::eof;
    return 0;
  }
  if (o.failed) {
    ec = o.failed;
    return 0;
  }
  // What the socket did not take yet goes first (a write's rest, a KeyUpdate, an alert).
  if (!o.out.empty() && !flush_owned(ec)) {
    if (ec) {
      o.failed = ec;
      return 0;
    }
    if (step != Step::read) {
      want_ = asio::socket_base::wait_write;
      return -1;
    }
  }
  std::string_view content;
  switch (step) {
    case Step::read:
      switch (next_record(content, ec)) {
        case Next::data:
          n = std::min(size, content.size());
          std::memcpy(data, content.data(), n);
          if (n < content.size()) {
            o.plain.assign(content.substr(n));
            o.plain_pos = 0;
          }
          return 1;
        case Next::would_block:
          want_ = o.out.empty() ? asio::socket_base::wait_read : asio::socket_base::wait_write;
          return -1;
        case Next::closed:
          ec = asio::error::eof;
          return 0;
        case Next::error:
          return 0;
      }
      return 0;
    case Step::write: {
      if (o.committed != 0) {  // a retried write whose records are all out now
        n = o.committed;
        o.committed = 0;
        return 1;
      }
      if (o.close_sent) {
        ec = asio::error::broken_pipe;
        return 0;
      }
      std::size_t take = std::min(size, kWriteChunk);
      for (std::size_t at = 0; at < take; at += Tls13Records::kMaxContent) {
        if (o.records.out_update_due()) send_key_update(false);
        auto chunk = std::min(Tls13Records::kMaxContent, take - at);
        o.records.seal(RecordType::application_data, std::string_view(static_cast<const char*>(data) + at, chunk),
                       o.out);
      }
      if (!flush_owned(ec)) {
        if (ec) {
          o.failed = ec;
          return 0;
        }
        o.committed = take;
        want_ = asio::socket_base::wait_write;
        return -1;
      }
      n = take;
      return 1;
    }
    case Step::shutdown:
      // Our close_notify, then the peer's. What the peer still sends meanwhile is read and
      // dropped, so that it can finish its write and read what we sent last (closing on
      // unread input would reset the connection and could destroy it), but only up to
      // kShutdownDiscard bytes: a peer that keeps sending is not waited for. A few records
      // per call, so that the thread's other work (the caller's deadline) runs between.
      if (!o.close_sent) {
        seal_alert(1, kCloseNotify);
        if (!flush_owned(ec)) {
          if (ec) return 0;
          want_ = asio::socket_base::wait_write;
          return -1;
        }
      }
      for (int records = 0;; ++records) {
        if (o.peer_closed) return 1;
        if (records == 16) {
          want_ = asio::socket_base::wait_read;
          return -1;
        }
        switch (next_record(content, ec)) {
          case Next::data:
            o.discarded += content.size();
            if (o.discarded > kShutdownDiscard) return 1;
            continue;
          case Next::would_block:
            want_ = asio::socket_base::wait_read;
            return -1;
          case Next::closed:
            return 1;
          case Next::error:
            return 0;
        }
      }
    case Step::handshake:
      ec = asio::error::operation_not_supported;
      return 0;
  }
  return 0;
}

}  // namespace parley::server::net
