#pragma once
// TlsStream's state for taking over the record layer; included by its two source files only.

#include <openssl/crypto.h>

#include <boost/system/error_code.hpp>
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "server/net/tls13_records.hpp"
#include "server/net/tls_stream.hpp"

namespace parley::server::net {

// Gathered from OpenSSL's callbacks during the handshake and while OpenSSL runs the
// connection: the first application traffic secrets, and how many records each side has
// protected under them (RFC 8446 §5.3: the sequence numbers).
struct TlsStream::Capture {
  std::array<unsigned char, 48> client_secret{};
  std::array<unsigned char, 48> server_secret{};
  std::size_t client_len = 0;
  std::size_t server_len = 0;
  bool server_finished = false;  // our Finished is out: what we send next is under the new key
  bool client_finished = false;  // the client's Finished is in: so is what it sends next
  bool key_update = false;       // a KeyUpdate moved the keys past the captured secrets
  std::uint64_t sent = 0;
  std::uint64_t received = 0;

  ~Capture() {
    OPENSSL_cleanse(client_secret.data(), client_secret.size());
    OPENSSL_cleanse(server_secret.data(), server_secret.size());
  }
};

struct TlsStream::Owned {
  Owned(std::uint16_t suite, std::string_view in_secret, std::uint64_t in_seq, std::string_view out_secret,
        std::uint64_t out_seq, std::uint64_t update_after)
      : records(suite, in_secret, in_seq, out_secret, out_seq, update_after) {}

  Tls13Records records;
  // Received bytes not yet unprotected: allocated only while some are there.
  std::unique_ptr<char[]> in;
  std::size_t in_begin = 0;
  std::size_t in_end = 0;
  // The rest of a record's content that the reader's buffer had no room for.
  std::string plain;
  std::size_t plain_pos = 0;
  // Protected bytes the socket has not taken yet, and the size of the write they carry
  // (reported when they are out, as SSL_write reports a retried write).
  std::string out;
  std::size_t out_pos = 0;
  std::size_t committed = 0;
  bool close_sent = false;
  bool peer_closed = false;
  std::size_t discarded = 0;  // application data dropped after our close_notify
  boost::system::error_code failed;
};

}  // namespace parley::server::net
