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
};

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  /// Creates an account through `parley user add`.
  void add_user(const std::string& jid, const std::string& password);
  /// Options for a client of `domain` on the STARTTLS (or direct TLS) port.
  ClientOptions client(bool direct_tls = false, const std::string& domain = "localhost") const;
  /// A client logged in as user@localhost with resource `resource`.
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& password,
                                    const std::string& resource = "test");

  Background& process() { return *process_; }
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
