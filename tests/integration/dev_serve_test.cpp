// `parley serve --dev` as a developer meets it: in an empty directory it keeps its state in
// ./var/dev (a private PostgreSQL, a development CA), listens on 127.0.0.1:5222 (STARTTLS)
// and :5223 (direct TLS) for `localhost`, and prints where the CA is, a command that adds a
// user, and where to connect. The test follows those printed instructions to the letter.
//
// The ports are fixed, so ctest runs this test alone (RESOURCE_LOCK xmpp_standard_ports,
// tests/CMakeLists.txt), and it is skipped when something else on the machine holds them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "tests/support/process.hpp"
#include "tests/support/xmpp_client.hpp"

namespace parley::test {
namespace {

// Whether 127.0.0.1:port can be bound now (as the server binds it: with SO_REUSEADDR, so a
// connection in TIME_WAIT from an earlier run does not count as taken).
bool port_free(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// "" if `path` holds a PEM certificate of a certification authority, else what is wrong.
std::string ca_problem(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "cannot open " + path;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return path + " holds no PEM certificate";
  std::string problem;
  if (X509_check_ca(cert) < 1) problem = path + " is not a CA certificate (basicConstraints CA:TRUE)";
  if (problem.empty() && X509_check_issued(cert, cert) != X509_V_OK) problem = path + " is not self-signed";
  X509_free(cert);
  return problem;
}

std::string first_match(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return "";
  return m[1];
}

TEST(DevServe, FollowingWhatItPrintsGivesAWorkingLocalServer) {
  if (!port_free(5222) || !port_free(5223)) {
    GTEST_SKIP() << "127.0.0.1 port 5222 or 5223 is in use on this machine (another XMPP server, or another "
                    "`parley serve --dev`?): `parley serve --dev` needs both, so this test cannot run here";
  }
  TempDir work;
  Background server({PARLEY_BINARY, "serve", "--dev"}, work.path());
  // On a failed assertion, still SIGTERM (not the destructor's SIGKILL), so that the server
  // stops its private PostgreSQL instead of leaving it running.
  struct StopOnExit {
    Background& server;
    bool stopped = false;
    ~StopOnExit() {
      if (!stopped) server.stop(SIGTERM);
    }
  } guard{server};
  ASSERT_TRUE(server.wait_for_stderr("then connect a client", 120)) << server.stderr_text();
  const std::string log = server.stderr_text();

  // Where the development CA is: in the working directory's var/dev, a CA certificate.
  std::string ca = first_match(log, "clients must trust the CA certificate ([^\\s]+)");
  ASSERT_FALSE(ca.empty()) << log;
  EXPECT_TRUE(std::filesystem::equivalent(ca, work / "var/dev/certs/ca.pem")) << ca;
  EXPECT_EQ(ca_problem(ca), "");

  // Where to connect.
  EXPECT_NE(log.find("connect a client as alice@localhost to 127.0.0.1 port 5222 (STARTTLS) or 127.0.0.1 port "
                     "5223 (direct TLS)"),
            std::string::npos)
      << log;

  // The printed command adds the user (the password on standard input, as a user types it).
  std::string add = first_match(log, "add an account with: ([^\\n]+)");
  ASSERT_FALSE(add.empty()) << log;
  Ran added = run({"/bin/sh", "-c", add}, "dev pass word\n");
  ASSERT_EQ(added.exit_code, 0) << add << "\n" << added.out << added.err;

  // A client that trusts only that CA logs in, with STARTTLS on 5222 and direct TLS on 5223.
  for (bool direct : {false, true}) {
    ClientOptions options;
    options.port = direct ? 5223 : 5222;
    options.domain = "localhost";
    options.ca_file = ca;
    options.direct_tls = direct;
    XmppClient client(options);
    EXPECT_EQ(client.login("alice", "dev pass word", "dev"), "alice@localhost/dev") << (direct ? "5223" : "5222");
  }

  // SIGTERM: a clean exit, and the private PostgreSQL is stopped with it.
  guard.stopped = true;
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.stderr_text();
  EXPECT_FALSE(std::filesystem::exists(work / "var/dev/postgres/data/postmaster.pid"));
  EXPECT_TRUE(port_free(5222));
}

}  // namespace
}  // namespace parley::test
