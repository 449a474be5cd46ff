#include "server/net/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

namespace parley::server::net {
namespace {

// Where each SSL_CTX keeps its TicketKeys (OpenSSL ex_data), made once.
int ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

template <std::size_t N>
void random_fill(std::array<unsigned char, N>& out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();  // no randomness: stop
}

}  // namespace

TicketKeys::TicketKeys() : current_(make_key()) {}

TicketKeys::~TicketKeys() {
  wipe(current_);
  if (previous_) wipe(*previous_);
}

TicketKeys::Key TicketKeys::make_key() {
  Key k;
  random_fill(k.name);
  random_fill(k.cipher);
  random_fill(k.mac);
  return k;
}

void TicketKeys::wipe(Key& key) {
  OPENSSL_cleanse(key.name.data(), key.name.size());
  OPENSSL_cleanse(key.cipher.data(), key.cipher.size());
  OPENSSL_cleanse(key.mac.data(), key.mac.size());
}

void TicketKeys::rotate() {
  Key fresh = make_key();
  std::lock_guard lock(mutex_);
  if (previous_) wipe(*previous_);
  previous_ = current_;
  current_ = fresh;
  wipe(fresh);
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, ex_index(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::callback);
}

int TicketKeys::callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int encrypt) {
  auto* self = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
  if (self == nullptr) return encrypt ? -1 : 0;
  return self->on_ticket(name, iv, cipher, mac, encrypt);
}

// OpenSSL's contract (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)): encrypting, fill the name
// and IV and set up both contexts, return 1; decrypting, return 0 for an unknown name (full
// handshake), 1 to accept, 2 to accept and issue a fresh ticket; -1 on an error.
int TicketKeys::on_ticket(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                          int encrypt) {
  std::lock_guard lock(mutex_);
  const Key* key = nullptr;
  int found = 1;
  if (encrypt) {
    key = &current_;
    if (RAND_bytes(iv, 16) != 1) return -1;  // AES-CBC: a 16-byte IV
    std::memcpy(name, key->name.data(), key->name.size());
  } else if (std::memcmp(name, current_.name.data(), current_.name.size()) == 0) {
    key = &current_;
  } else if (previous_ && std::memcmp(name, previous_->name.data(), previous_->name.size()) == 0) {
    key = &*previous_;
    found = 2;  // still good for this period; the client gets a ticket under the current key
  } else {
    return 0;  // a retired (wiped) or foreign key: full handshake
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->mac.data()),
                                        key->mac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  int ok = encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->cipher.data(), iv)
                   : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->cipher.data(), iv);
  return ok == 1 ? found : -1;
}

}  // namespace parley::server::net
