#pragma once
// TLS session tickets that keep forward secrecy (DESIGN.md, security policy): the keys that
// encrypt tickets live only in memory, are made at random when the server starts, and
// rotate every [tls] ticket_key_lifetime. A ticket made under the current key resumes; one
// made under the previous key still resumes (and is replaced by a fresh ticket) for one
// more period; after that the key is wiped and its tickets only get a full handshake. So a
// key that leaks (a memory dump) opens at most two periods of recorded sessions, and a
// restart forgets every key. Nothing is ever written to disk.
//
// Several nodes serving one domain behind a load balancer would have to share these keys
// (docs/security.md says how); a single node needs nothing.
//
// Thread-safe: the OpenSSL callback runs on every network thread while rotate() runs on a
// timer.

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <mutex>
#include <optional>

namespace parley::server::net {

class TicketKeys {
 public:
  TicketKeys();
  ~TicketKeys();  // wipes the keys
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  /// Makes a new current key; the current one becomes the previous; the previous is wiped.
  void rotate();

  /// Lets `ctx` issue and accept tickets under these keys (SSL_CTX_set_tlsext_ticket_key_evp_cb).
  /// The TicketKeys must outlive the context.
  void install(SSL_CTX* ctx);

 private:
  struct Key {
    std::array<unsigned char, 16> name{};   ///< sent in the clear in each ticket
    std::array<unsigned char, 32> cipher{}; ///< AES-256-CBC
    std::array<unsigned char, 32> mac{};    ///< HMAC-SHA256
  };
  static int callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt);
  int on_ticket(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt);
  static Key make_key();
  static void wipe(Key& key);

  std::mutex mutex_;
  Key current_;
  std::optional<Key> previous_;
};

}  // namespace parley::server::net
