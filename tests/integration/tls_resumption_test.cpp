// TLS session resumption against a real `parley serve` (server/net/ticket_keys.hpp): a client
// that comes back with its session resumes it, over STARTTLS and direct TLS, TLS 1.3 and
// 1.2, and still logs in with channel binding. (That a retired key's ticket gets a full
// handshake is tested deterministically in tests/unit/server/ticket_keys_test.cpp.)
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

struct Case {
  bool direct_tls;
  int max_tls_version;  // 0: TLS 1.3
};

class TlsResumption : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    server_->add_user("alice@localhost", "alice-pw");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  ClientOptions options() const {
    ClientOptions o = server_->client(GetParam().direct_tls);
    o.max_tls_version = GetParam().max_tls_version;
    return o;
  }
  static TestServer* server_;
};
TestServer* TlsResumption::server_ = nullptr;

TEST_P(TlsResumption, AReturningClientResumesAndLogsIn) {
  SSL_SESSION* session = nullptr;
  {
    XmppClient first(options());
    ASSERT_TRUE(first.connect_tls());
    EXPECT_FALSE(first.resumed());
    session = first.session();
  }
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(SSL_SESSION_has_ticket(session));
  ClientOptions o = options();
  o.resume = session;
  XmppClient second(o);
  ASSERT_TRUE(second.connect_tls());
  EXPECT_TRUE(second.resumed());
  // Channel binding on the resumed connection: tls-exporter (1.3) or tls-unique (1.2).
  EXPECT_EQ(second.authenticate("SCRAM-SHA-256-PLUS", "alice", "alice-pw"), "");
  SSL_SESSION_free(session);
}

INSTANTIATE_TEST_SUITE_P(Listeners, TlsResumption,
                         ::testing::Values(Case{false, 0}, Case{true, 0}, Case{false, TLS1_2_VERSION},
                                           Case{true, TLS1_2_VERSION}),
                         [](const auto& info) {
                           return std::string(info.param.direct_tls ? "DirectTls" : "StartTls") +
                                  (info.param.max_tls_version ? "12" : "13");
                         });

}  // namespace
}  // namespace parley::test
