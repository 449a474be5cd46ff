// Interop with a real federation peer from Debian: Prosody 0.12, started by
// tests/interop/prosody_federation.py with s2s_secure_auth = true and dialback disabled,
// federates with a `parley serve` for parley.test. Certificates for both domains come from
// one test CA. Prosody resolves parley.test to 127.0.0.3 from a hosts file of its own (no
// change to /etc/hosts) and dials port 5269 there; parley reaches prosody.test through a
// static route. The script logs alice in to parley and bob in to Prosody with slixmpp and
// checks messages both ways and a subscription each way; it prints "N passed, M failed".
//
// Prosody missing is a failure, not a skip: contrib/dev.sh installs it.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kScript = std::string(PARLEY_SOURCE_DIR) + "/tests/interop/prosody_federation.py";

TEST(InteropProsody, MessagesAndSubscriptionsBothWays) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/prosody"))
      << "Prosody is not installed: contrib/dev.sh installs prosody and lua-unbound";

  TempDir ca;
  auto certs = parley({"cert", "dev", "--out", ca.path(), "--domain", "prosody.test"});
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  std::uint16_t prosody_s2s = free_port();

  TestServerOptions o;
  o.domains = {"parley.test"};
  o.modules = {"message", "disco", "ping", "roster", "presence", "offline"};
  o.ca_from = ca.path();
  o.federation = true;
  o.s2s_address = "127.0.0.3";  // where Prosody's hosts file puts parley.test
  o.s2s_port = 5269;            // the port Prosody dials without SRV records
  o.extra_config = "[federation]\nconnect_timeout = 10\n[federation.routes]\n\"prosody.test\" = \"127.0.0.2:" +
                   std::to_string(prosody_s2s) + "\"\n";
  TestServer server(o);
  server.add_user("alice@parley.test", "alice-secret");

  TempDir work;
  Ran r = run({kPython, kScript, "--workdir", work / "prosody", "--ca-file", ca / "ca.pem", "--prosody-cert",
               ca / "prosody.test.pem", "--prosody-key", ca / "prosody.test.key", "--prosody-s2s-port",
               std::to_string(prosody_s2s), "--parley-c2s-port", std::to_string(server.c2s_port()),
               "--alice-password", "alice-secret", "--timeout", "60"});
  const std::string& log = server.process().stderr_text();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\nparley's log:\n" << log;
  EXPECT_NE(r.out.find("4 passed, 0 failed"), std::string::npos) << r.out;
  // Both directions were authenticated by certificates (SASL EXTERNAL), not by dialback.
  EXPECT_NE(log.find("s2s parley.test -> prosody.test: authenticated with SASL EXTERNAL"), std::string::npos) << log;
  EXPECT_NE(log.find("prosody.test -> parley.test: authenticated as prosody.test with SASL EXTERNAL"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace parley::test
