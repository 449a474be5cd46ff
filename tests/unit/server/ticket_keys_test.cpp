// Session tickets under rotating in-memory keys (server/net/ticket_keys.hpp), with real
// OpenSSL handshakes over memory BIOs: a ticket resumes under the current key and for one
// more period after a rotation, and gets a full handshake once its key is retired.
#include "server/net/ticket_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace parley::server::net {
namespace {

struct Freer {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Freer>;

// A server context with a throwaway self-signed P-256 certificate and the keys' callback.
Ptr<SSL_CTX> server_context(TicketKeys& keys) {
  Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  SSL_CTX_use_certificate(ctx.get(), cert.get());
  SSL_CTX_use_PrivateKey(ctx.get(), key.get());
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);  // tickets only
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  keys.install(ctx.get());
  return ctx;
}

// One handshake over a memory BIO pair; the session the client got (after reading the
// TLS 1.3 ticket), and whether the handshake resumed `offer`.
struct Outcome {
  bool resumed = false;
  Ptr<SSL_SESSION> session;
};

Outcome handshake(SSL_CTX* server_ctx, int version, SSL_SESSION* offer) {
  Ptr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(client_ctx.get(), version);
  SSL_CTX_set_max_proto_version(client_ctx.get(), version);
  Ptr<SSL> client(SSL_new(client_ctx.get()));
  Ptr<SSL> server(SSL_new(server_ctx));
  BIO *client_bio = nullptr, *server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (offer != nullptr) SSL_set_session(client.get(), offer);
  for (int i = 0; i < 20 && !(SSL_is_init_finished(client.get()) && SSL_is_init_finished(server.get())); ++i) {
    SSL_do_handshake(client.get());
    SSL_do_handshake(server.get());
  }
  EXPECT_TRUE(SSL_is_init_finished(client.get()) && SSL_is_init_finished(server.get()));
  char byte;
  SSL_read(client.get(), &byte, 1);  // takes in a TLS 1.3 NewSessionTicket, if any
  Outcome out;
  out.resumed = SSL_session_reused(client.get()) == 1;
  out.session.reset(SSL_get1_session(client.get()));
  // As after a proper close: OpenSSL marks the session of a connection freed without one
  // as not resumable.
  SSL_set_shutdown(client.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_set_shutdown(server.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  return out;
}

class Tickets : public ::testing::TestWithParam<int> {};

TEST_P(Tickets, ResumeForTwoPeriodsThenAFullHandshake) {
  TicketKeys keys;
  auto ctx = server_context(keys);
  Outcome first = handshake(ctx.get(), GetParam(), nullptr);
  ASSERT_TRUE(first.session);
  ASSERT_TRUE(SSL_SESSION_has_ticket(first.session.get()));
  EXPECT_FALSE(first.resumed);

  EXPECT_TRUE(handshake(ctx.get(), GetParam(), first.session.get()).resumed) << "under the current key";
  keys.rotate();
  Outcome after_one = handshake(ctx.get(), GetParam(), first.session.get());
  EXPECT_TRUE(after_one.resumed) << "the previous key still resumes for one period";
  keys.rotate();
  EXPECT_FALSE(handshake(ctx.get(), GetParam(), first.session.get()).resumed) << "a retired key: full handshake";
  // The ticket renewed during the previous period was issued under the key current then,
  // which is now the previous one: it still resumes.
  ASSERT_TRUE(after_one.session);
  EXPECT_TRUE(handshake(ctx.get(), GetParam(), after_one.session.get()).resumed);
}

TEST_P(Tickets, AnotherServersTicketIsRefused) {
  TicketKeys keys, other_keys;
  auto ctx = server_context(keys);
  auto other = server_context(other_keys);
  Outcome first = handshake(ctx.get(), GetParam(), nullptr);
  ASSERT_TRUE(first.session);
  EXPECT_FALSE(handshake(other.get(), GetParam(), first.session.get()).resumed);
}

INSTANTIATE_TEST_SUITE_P(Versions, Tickets, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) { return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13"; });

}  // namespace
}  // namespace parley::server::net
