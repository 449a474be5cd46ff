#pragma once
// A TestServer that can be restarted: the running `parley serve` is stopped with SIGTERM and
// a new one is started on the same configuration, data directory and database, as an
// operator's restart would. The listeners use free ports, so they change on each restart;
// client() and login() always use the current ones.

#include <memory>
#include <string>

#include "tests/support/test_server.hpp"

namespace parley::test {

class RestartableServer {
 public:
  explicit RestartableServer(TestServerOptions options = {});
  ~RestartableServer();

  /// Stops the running server with `signal` (SIGTERM: an operator's restart; SIGKILL: a
  /// crash), returns its exit status (-1 when killed by the signal), and starts a new one.
  int restart(int signal = 15);

  void add_user(const std::string& jid, const std::string& password) { server_.add_user(jid, password); }
  ClientOptions client(bool direct_tls = false, const std::string& domain = "localhost") const;
  /// A client logged in as user@localhost with resource `resource`.
  std::unique_ptr<XmppClient> login(const std::string& user, const std::string& password,
                                    const std::string& resource = "test");
  /// The current server's log (standard error).
  const std::string& log();
  TestServer& first() { return server_; }

 private:
  TestServer server_;
  std::unique_ptr<Background> process_;  ///< the server since the last restart, if any
  std::uint16_t c2s_port_ = 0;
  std::uint16_t c2s_tls_port_ = 0;
};

}  // namespace parley::test
