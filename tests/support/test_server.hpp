#pragma once
// A real `parley serve` for integration tests: its own data directory, a test CA and
// certificates from `parley cert dev`, a fresh database in the suite's PostgreSQL, and
// c2s and c2s-tls listeners on free loopback ports (read back from its log).

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/xmpp_client.hpp"

namespace parley::test {

struct TestServerOptions {
  std::vector<std::string> domains{"localhost"};
  std::vector<std::string> modules{"message", "disco", "ping", "version", "time"};
  std::string extra_config;  ///< appended to the generated parley.toml
  std::vector<std::string> plugins;  ///< [server] plugins
  /// A directory holding ca.pem and ca.key: this server's certificates are issued by that
  /// CA (servers that must trust each other share one). Empty: a CA of its own.
  std::string ca_from;
  /// Only the [tls] pair (the first domain's certificate) serves every host.
  bool one_certificate = false;
  /// Ports for s2s (STARTTLS) and s2s-tls listeners on 127.0.0.1; 0 = no such listener.
  std::uint16_t s2s_port = 0;
  std::uint16_t s2s_tls_port = 0;
  std::string s2s_address = "127.0.0.1";
  /// Off by default, so that no test asks DNS about a remote domain; when on, extra_config
  /// may hold the [federation] table.
  bool federation = false;
  /// Lines for the [security] table (which the generated file has already). By default no
  /// failed-login delays: every test connects from 127.0.0.1, and tests that try wrong
  /// passwords would slow down the others (login_abuse_test.cpp tests the delays).
  std::string security = "failed_login_delay = 0\n";
  /// Lines for the [database] table (which the generated file has already: url, pool_size).
  std::string database;
  /// The admin conninfo of the PostgreSQL cluster for this server's database; empty: the
  /// suite's shared cluster ($PARLEY_TEST_DB). Tests that stop their database use their own.
  std::string cluster;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (for servers that must know each
/// other's ports before they start).
std::uint16_t free_port();

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  /// Creates an account through `parley user add`.
  void add_user(const std::string& jid, const std::string& password);
  /// Options for a client of `domain` on the STARTTLS (or direct TLS) port.
  ClientOptions client(bool direct_tls = false, const std::string& domain = "localhost") const;
  /// A client logged in as user@localhost (or user@domain) with resource `resource`.
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& password,
                                    const std::string& resource = "test", const std::string& domain = "localhost");

  Background& process() { return *process_; }
  const TestDatabase& database() const { return db_; }
  const std::string& dir() const { return dir_.path(); }
  std::uint16_t c2s_port() const { return c2s_port_; }
  std::uint16_t c2s_tls_port() const { return c2s_tls_port_; }
  std::string config_file() const { return dir_ / "parley.toml"; }

 private:
  TempDir dir_;
  TestDatabase db_;
  std::unique_ptr<Background> process_;
  std::uint16_t c2s_port_ = 0;
  std::uint16_t c2s_tls_port_ = 0;
};

}  // namespace parley::test
