#include "server/config.hpp"

#include <chrono>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fs = std::filesystem;
using parley::server::Config;
using parley::server::ConfigError;
using parley::server::ListenType;
using testing::AllOf;
using testing::HasSubstr;
using testing::StartsWith;

namespace {

// Every test's text starts on line 1, so the line numbers asserted below can be counted
// in the raw string.
Config parse(std::string_view text) {
  return parley::server::parse_config(text, "t.toml", "/srv/parley");
}

/// The message of the ConfigError that parsing `text` throws, or "(no error)".
std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const char* const kFullFile = R"([server]
threads = 4
data_dir = "state"
log_level = "debug"

[database]
url = "postgresql://parley@/parley?host=/run/postgresql"
pool_size = 16

[security]
key_file = "/etc/parley/secret.key"
scram_iterations = 20000

[tls]
certificate = "certs/example.org.pem"
private_key = "certs/example.org.key"
ca_file = "/etc/ssl/certs/ca-certificates.crt"

[[listen]]
type = "c2s"
address = "127.0.0.1"
port = 15222

[[listen]]
type = "s2s-tls"

[[host]]
domain = "Example.ORG."
modules = ["roster", "presence", "ping"]
certificate = "certs/../certs/own.pem"
private_key = "certs/own.key"

[[host]]
domain = "chat.example.org"

[federation]
enabled = false
[federation.routes]
"other.test" = "127.0.0.2:5269"
"v6.test" = "[::1]:5270"
)";

TEST(Config, FullFileParsesToTheGivenValues) {
  Config c = parse(kFullFile);
  EXPECT_TRUE(c.file.empty());
  EXPECT_EQ(c.server.threads, 4);
  EXPECT_EQ(c.server.data_dir, fs::path("/srv/parley/state"));
  EXPECT_EQ(c.server.log_level, "debug");
  ASSERT_TRUE(c.database.url);
  EXPECT_EQ(*c.database.url, "postgresql://parley@/parley?host=/run/postgresql");
  EXPECT_EQ(c.database.pool_size, 16);
  EXPECT_EQ(c.security.key_file, fs::path("/etc/parley/secret.key"));
  EXPECT_EQ(c.security.scram_iterations, 20000);
  EXPECT_EQ(c.tls.certificate, fs::path("/srv/parley/certs/example.org.pem"));
  EXPECT_EQ(c.tls.private_key, fs::path("/srv/parley/certs/example.org.key"));
  EXPECT_EQ(c.tls.ca_file, fs::path("/etc/ssl/certs/ca-certificates.crt"));

  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].type, ListenType::c2s);
  EXPECT_EQ(c.listen[0].address, "127.0.0.1");
  EXPECT_EQ(c.listen[0].port, 15222);
  EXPECT_EQ(c.listen[0].location.str(), "t.toml:19");
  EXPECT_EQ(c.listen[1].type, ListenType::s2s_tls);
  EXPECT_EQ(c.listen[1].address, "0.0.0.0");
  EXPECT_EQ(c.listen[1].port, 5270);
  EXPECT_EQ(c.listen[1].location.str(), "t.toml:24");

  ASSERT_EQ(c.hosts.size(), 2u);
  EXPECT_EQ(c.hosts[0].domain, "example.org");
  EXPECT_EQ(c.hosts[0].modules, (std::vector<std::string>{"roster", "presence", "ping"}));
  EXPECT_EQ(c.hosts[0].certificate, fs::path("/srv/parley/certs/own.pem"));
  EXPECT_EQ(c.hosts[0].private_key, fs::path("/srv/parley/certs/own.key"));
  EXPECT_EQ(c.hosts[0].location.str(), "t.toml:27");
  EXPECT_EQ(c.hosts[1].domain, "chat.example.org");
  EXPECT_TRUE(c.hosts[1].modules.empty());
  EXPECT_FALSE(c.hosts[1].certificate);
  EXPECT_FALSE(c.hosts[1].private_key);

  EXPECT_FALSE(c.federation.enabled);
  EXPECT_EQ(c.federation.routes,
            (std::map<std::string, std::string>{{"other.test", "127.0.0.2:5269"},
                                                {"v6.test", "[::1]:5270"}}));

  EXPECT_EQ(c.find_host("example.org"), &c.hosts[0]);
  EXPECT_EQ(c.find_host("EXAMPLE.org."), &c.hosts[0]);
  EXPECT_EQ(c.find_host("chat.example.org"), &c.hosts[1]);
  EXPECT_EQ(c.find_host("example.com"), nullptr);
}

TEST(Config, EmptyFileGivesTheDefaults) {
  Config c = parse("");
  EXPECT_EQ(c.server.threads, 0);
  EXPECT_EQ(c.server.data_dir, fs::path("/srv/parley/var"));
  EXPECT_EQ(c.server.log_level, "info");
  EXPECT_FALSE(c.database.url);
  EXPECT_EQ(c.database.pool_size, 8);
  EXPECT_EQ(c.security.key_file, fs::path("/srv/parley/var/secret.key"));
  EXPECT_EQ(c.security.scram_iterations, 10000);
  EXPECT_FALSE(c.tls.certificate);
  EXPECT_FALSE(c.tls.private_key);
  EXPECT_FALSE(c.tls.ca_file);
  EXPECT_TRUE(c.listen.empty());
  EXPECT_TRUE(c.hosts.empty());
  EXPECT_TRUE(c.federation.enabled);
  EXPECT_TRUE(c.federation.routes.empty());
}

TEST(Config, ListenerPortDefaultsByType) {
  Config c = parse(R"([[listen]]
type = "c2s"
[[listen]]
type = "c2s-tls"
[[listen]]
type = "s2s"
[[listen]]
type = "s2s-tls"
[[listen]]
type = "http"
[[listen]]
type = "c2s"
address = "::1"
port = 0
)");
  ASSERT_EQ(c.listen.size(), 6u);
  EXPECT_EQ(c.listen[0].port, 5222);
  EXPECT_EQ(c.listen[1].port, 5223);
  EXPECT_EQ(c.listen[2].port, 5269);
  EXPECT_EQ(c.listen[3].port, 5270);
  EXPECT_EQ(c.listen[4].port, 5280);
  EXPECT_EQ(c.listen[4].type, ListenType::http);
  EXPECT_EQ(c.listen[5].port, 0);
  EXPECT_EQ(c.listen[5].address, "::1");
}

TEST(Config, ListenTypeNamesAndPorts) {
  using parley::server::default_port;
  using parley::server::to_string;
  EXPECT_EQ(to_string(ListenType::c2s), "c2s");
  EXPECT_EQ(to_string(ListenType::c2s_tls), "c2s-tls");
  EXPECT_EQ(to_string(ListenType::s2s), "s2s");
  EXPECT_EQ(to_string(ListenType::s2s_tls), "s2s-tls");
  EXPECT_EQ(to_string(ListenType::http), "http");
  EXPECT_EQ(default_port(ListenType::c2s), 5222);
  EXPECT_EQ(default_port(ListenType::c2s_tls), 5223);
  EXPECT_EQ(default_port(ListenType::s2s), 5269);
  EXPECT_EQ(default_port(ListenType::s2s_tls), 5270);
  EXPECT_EQ(default_port(ListenType::http), 5280);
}

TEST(Config, RelativePathsResolveAgainstTheBaseDirectory) {
  Config c = parley::server::parse_config(R"([server]
data_dir = "./run/../state"
[tls]
certificate = "tls/cert.pem"
private_key = "/abs/key.pem"
ca_file = "../ca.pem"
)", "t.toml", "/etc/parley");
  EXPECT_EQ(c.server.data_dir, fs::path("/etc/parley/state"));
  // The key file's default follows data_dir.
  EXPECT_EQ(c.security.key_file, fs::path("/etc/parley/state/secret.key"));
  EXPECT_EQ(c.tls.certificate, fs::path("/etc/parley/tls/cert.pem"));
  EXPECT_EQ(c.tls.private_key, fs::path("/abs/key.pem"));
  EXPECT_EQ(c.tls.ca_file, fs::path("/etc/ca.pem"));
}

TEST(Config, DomainsAreNormalised) {
  Config c = parse(R"([[host]]
domain = "MiXeD-Case.Example."
[[host]]
domain = "Bücher.Example"
[[host]]
domain = "localhost"
)");
  ASSERT_EQ(c.hosts.size(), 3u);
  EXPECT_EQ(c.hosts[0].domain, "mixed-case.example");
  EXPECT_EQ(c.hosts[1].domain, "bücher.example");  // an IDN passes through as UTF-8
  EXPECT_EQ(c.hosts[2].domain, "localhost");
}

// --- errors: each names the file, the line and column, and the key's full path ---

TEST(ConfigErrors, UnknownTopLevelKey) {
  EXPECT_EQ(error_of(R"([server]
threads = 2

[servre]
threads = 3
)"),
            "t.toml:4:2: unknown key 'servre'");
  EXPECT_EQ(error_of("listen_on = 5222\n"), "t.toml:1:1: unknown key 'listen_on'");
}

TEST(ConfigErrors, UnknownKeyInASection) {
  EXPECT_EQ(error_of(R"([server]
threads = 2
data_dir = "var"
thredas = 4
)"),
            "t.toml:4:1: unknown key 'server.thredas'");
}

TEST(ConfigErrors, FirstUnknownKeyInFileOrderIsReported) {
  EXPECT_EQ(error_of(R"([database]
zzz = 1
aaa = 2
)"),
            "t.toml:2:1: unknown key 'database.zzz'");
}

TEST(ConfigErrors, UnknownKeyInAHostEntry) {
  std::string e = error_of(R"([[host]]
domain = "a.example"

[[host]]
domain = "b.example"
modles = ["ping"]
)");
  EXPECT_EQ(e, "t.toml:6:1: unknown key 'host[1].modles'");
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a.example\"\nmodles = []\n"),
              AllOf(StartsWith("t.toml:3:"), HasSubstr("'host[0].modles'")));
}

TEST(ConfigErrors, UnknownKeyInAListenEntryAndInRoutesParent) {
  EXPECT_THAT(error_of("[[listen]]\ntype = \"c2s\"\nprot = 5222\n"),
              AllOf(StartsWith("t.toml:3:1: "), HasSubstr("unknown key 'listen[0].prot'")));
  EXPECT_THAT(error_of("[federation]\nenabled = true\nroute = {}\n"),
              AllOf(StartsWith("t.toml:3:1: "), HasSubstr("unknown key 'federation.route'")));
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of("[server]\n\nthreads = \"4\"\n"),
            "t.toml:3:11: 'server.threads' must be an integer");
  EXPECT_EQ(error_of("[database]\npool_size = 8.0\n"),
            "t.toml:2:13: 'database.pool_size' must be an integer");
  EXPECT_EQ(error_of("[server]\ndata_dir = 5\n"),
            "t.toml:2:12: 'server.data_dir' must be a string");
  EXPECT_EQ(error_of("[federation]\nenabled = \"yes\"\n"),
            "t.toml:2:11: 'federation.enabled' must be true or false");
  EXPECT_THAT(error_of("server = 1\n"),
              AllOf(StartsWith("t.toml:1:"), HasSubstr("'server' must be a table")));
  EXPECT_THAT(error_of("[listen]\ntype = \"c2s\"\n"),
              AllOf(StartsWith("t.toml:1:"), HasSubstr("'listen' must be an array of tables")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a.example\"\nmodules = \"ping\"\n"),
              AllOf(StartsWith("t.toml:3:"), HasSubstr("'host[0].modules' must be an array")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a.example\"\nmodules = [\"ping\", 3]\n"),
              AllOf(StartsWith("t.toml:3:"), HasSubstr("'host[0].modules[1]'")));
  EXPECT_THAT(error_of("[federation]\nroutes = 1\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'federation.routes' must be a table")));
  EXPECT_THAT(error_of("[database]\nurl = \"\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'database.url' must not be empty")));
}

TEST(ConfigErrors, OutOfRangeValues) {
  EXPECT_EQ(error_of("[server]\nthreads = 1025\n"),
            "t.toml:2:11: 'server.threads' must be between 0 and 1024, not 1025");
  EXPECT_THAT(error_of("[server]\nthreads = -1\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'server.threads' must be between")));
  EXPECT_THAT(error_of("[database]\npool_size = 0\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'database.pool_size'")));
  EXPECT_THAT(error_of("[database]\npool_size = 1001\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'database.pool_size'")));
  EXPECT_THAT(error_of("[security]\nscram_iterations = 4095\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'security.scram_iterations'")));
  EXPECT_THAT(error_of("[security]\nscram_iterations = 10000001\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'security.scram_iterations'")));
  EXPECT_THAT(error_of("[[listen]]\ntype = \"c2s\"\n\n[[listen]]\ntype = \"s2s\"\nport = 65536\n"),
              AllOf(StartsWith("t.toml:6:"), HasSubstr("'listen[1].port' must be between 0 and 65535")));
  EXPECT_EQ(error_of("[server]\nlog_level = \"verbose\"\n"),
            "t.toml:2:13: 'server.log_level' must be one of debug, info, warning, error");
}

TEST(ConfigErrors, BadListenType) {
  EXPECT_EQ(error_of(R"([[listen]]
type = "c2s"

[[listen]]
address = "::"
port = 5269
type = "xmpp"
)"),
            "t.toml:7:8: 'listen[1].type' must be one of c2s, c2s-tls, s2s, s2s-tls, http");
}

TEST(ConfigErrors, MissingListenTypeAndHostDomain) {
  EXPECT_EQ(error_of("[[listen]]\nport = 5222\n"), "t.toml:1:1: missing key 'listen[0].type'");
  EXPECT_EQ(error_of(R"([[host]]
domain = "a.example"

[[host]]
modules = ["ping"]
)"),
            "t.toml:4:1: missing key 'host[1].domain'");
}

TEST(ConfigErrors, InvalidDomains) {
  EXPECT_THAT(error_of("[[host]]\n\ndomain = \"exa mple.org\"\n"),
              AllOf(StartsWith("t.toml:3:10: "), HasSubstr("'host[0].domain' is not a valid domain")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a..b\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("empty label")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"-a.example\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'host[0].domain'")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"user@example.org\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'@'")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"" + std::string(64, 'a') + ".example\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("longer than 63")));
  EXPECT_THAT(error_of("[[host]]\ndomain = \".\"\n"), StartsWith("t.toml:2:"));
}

TEST(ConfigErrors, DuplicateHostDomainsNameBothLines) {
  std::string e = error_of(R"([[host]]
domain = "example.org"
modules = ["ping"]

[[host]]
domain = "Example.org."
)");
  EXPECT_THAT(e, StartsWith("t.toml:6:10: 'host[1].domain'"));
  EXPECT_THAT(e, HasSubstr("'example.org'"));
  EXPECT_THAT(e, HasSubstr("t.toml:1"));  // where the first one is
}

TEST(ConfigErrors, DuplicateModules) {
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a.example\"\nmodules = [\"ping\", \"roster\", \"ping\"]\n"),
              AllOf(StartsWith("t.toml:3:30: "), HasSubstr("'host[0].modules[2]' repeats module 'ping'")));
}

TEST(ConfigErrors, DuplicateListeners) {
  EXPECT_THAT(error_of("[[listen]]\ntype = \"c2s\"\n[[listen]]\ntype = \"c2s\"\n"),
              AllOf(StartsWith("t.toml:3:"), HasSubstr("'listen[1]'"), HasSubstr("t.toml:1")));
  // Port 0 (any free port) may repeat.
  EXPECT_EQ(error_of("[[listen]]\ntype = \"c2s\"\nport = 0\n[[listen]]\ntype = \"s2s\"\nport = 0\n"),
            "(no error)");
}

TEST(ConfigErrors, CertificateWithoutPrivateKey) {
  EXPECT_EQ(error_of("[tls]\nca_file = \"ca.pem\"\ncertificate = \"c.pem\"\n"),
            "t.toml:3:15: 'tls.certificate' is given without 'tls.private_key'");
  EXPECT_EQ(error_of("[tls]\nprivate_key = \"k.pem\"\n"),
            "t.toml:2:15: 'tls.private_key' is given without 'tls.certificate'");
  EXPECT_EQ(error_of(R"([[host]]
domain = "a.example"
[[host]]
domain = "b.example"
certificate = "b.pem"
)"),
            "t.toml:5:15: 'host[1].certificate' is given without 'host[1].private_key'");
}

TEST(ConfigErrors, BadRoutes) {
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"127.0.0.1\"\n"),
              AllOf(StartsWith("t.toml:2:12: "), HasSubstr("'federation.routes.\"a.test\"'"),
                    HasSubstr("port is missing")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \":5269\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("host is empty")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"h.test:0\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("between 1 and 65535")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"h.test:65536\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("between 1 and 65535")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"h.test:52x\"\n"),
              StartsWith("t.toml:2:"));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"::1:5269\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("brackets")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"[::1]5269\"\n"),
              StartsWith("t.toml:2:"));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = 5269\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("must be a string")));
  EXPECT_THAT(error_of("[federation]\n[federation.routes]\n\"bad domain\" = \"h:1\"\n"),
              AllOf(StartsWith("t.toml:3:1: "), HasSubstr("'federation.routes.\"bad domain\"'"),
                    HasSubstr("not a valid domain")));
  EXPECT_THAT(error_of("[federation.routes]\n\"a.test\" = \"h:1\"\n\"A.test.\" = \"h:2\"\n"),
              HasSubstr("repeats the route for 'a.test'"));
}

TEST(Config, FederationAccessAndTimeouts) {
  Config c = parse("[federation]\nallow = [\"Partner.Example.\", \"lab.example\"]\ndeny = [\"lab.example\"]\n"
                   "connect_timeout = 5\nnegotiation_timeout = 7\nidle_timeout = 60\n");
  EXPECT_EQ(c.federation.allow, (std::vector<std::string>{"partner.example", "lab.example"}));
  EXPECT_EQ(c.federation.connect_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.federation.negotiation_timeout, std::chrono::seconds(7));
  EXPECT_EQ(c.federation.idle_timeout, std::chrono::seconds(60));
  EXPECT_TRUE(c.federation.permits("partner.example"));
  EXPECT_FALSE(c.federation.permits("lab.example"));   // deny wins over allow
  EXPECT_FALSE(c.federation.permits("other.example"));  // a closed federation
  EXPECT_FALSE(c.federation.permits("x.partner.example"));

  EXPECT_FALSE(c.federation.dialback_allowed("partner.example"));  // off by default

  Config dialback = parse("[federation]\ndialback_peers = [\"Legacy.Example\"]\ndeny = [\"spam.example\"]\n");
  EXPECT_TRUE(dialback.federation.dialback_allowed("legacy.example"));
  EXPECT_FALSE(dialback.federation.dialback_allowed("other.example"));
  Config everyone = parse("[federation]\ndialback = true\ndeny = [\"spam.example\"]\n");
  EXPECT_TRUE(everyone.federation.dialback_allowed("other.example"));
  EXPECT_FALSE(everyone.federation.dialback_allowed("spam.example"));  // deny still wins

  Config open = parse("[federation]\ndeny = [\"spam.example\"]\n");
  EXPECT_TRUE(open.federation.permits("anyone.example"));
  EXPECT_FALSE(open.federation.permits("spam.example"));
  EXPECT_EQ(open.federation.connect_timeout, std::chrono::seconds(30));
  EXPECT_EQ(open.federation.idle_timeout, std::chrono::seconds(600));
}

TEST(Config, TlsResumptionSettings) {
  Config defaults = parse("");
  EXPECT_EQ(defaults.tls.ticket_key_lifetime, std::chrono::seconds(3600));
  EXPECT_EQ(defaults.tls.session_cache_size, 20000u);
  Config c = parse("[tls]\nticket_key_lifetime = 600\nsession_cache_size = 0\n");
  EXPECT_EQ(c.tls.ticket_key_lifetime, std::chrono::seconds(600));
  EXPECT_EQ(c.tls.session_cache_size, 0u);
  EXPECT_THAT(error_of("[tls]\nticket_key_lifetime = 5\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'tls.ticket_key_lifetime' must be between 60 and 604800")));
}

TEST(Config, FailedLoginDelaysAndSigninRetention) {
  Config defaults = parse("");
  EXPECT_EQ(defaults.security.failed_login_delay, std::chrono::milliseconds(500));
  EXPECT_EQ(defaults.security.failed_login_delay_max, std::chrono::milliseconds(10000));
  EXPECT_EQ(defaults.security.signin_retention, std::chrono::hours(24 * 90));
  Config c = parse("[security]\nfailed_login_delay = 0\nfailed_login_delay_max = 2000\nsignin_retention_days = 7\n");
  EXPECT_EQ(c.security.failed_login_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(c.security.failed_login_delay_max, std::chrono::milliseconds(2000));
  EXPECT_EQ(c.security.signin_retention, std::chrono::hours(24 * 7));
  EXPECT_THAT(error_of("[security]\nfailed_login_delay_max = 60000\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'security.failed_login_delay_max'")));
}

TEST(Config, ConnectionAndRateLimits) {
  Config d = parse("");
  EXPECT_EQ(d.limits.max_connections, 10000u);
  EXPECT_EQ(d.limits.max_connections_per_address, 32u);
  EXPECT_EQ(d.limits.max_sessions_per_account, 16u);
  EXPECT_EQ(d.limits.read_bytes_per_second, 256u * 1024);
  EXPECT_EQ(d.limits.read_burst_bytes, 1024u * 1024);
  EXPECT_EQ(d.limits.stanza_timeout, std::chrono::seconds(60));
  Config c = parse("[limits]\nmax_connections = 5\nmax_connections_per_address = 2\nmax_sessions_per_account = 1\n"
                   "read_bytes_per_second = 2048\nread_burst_bytes = 4096\nstanza_timeout = 9\n");
  EXPECT_EQ(c.limits.max_connections, 5u);
  EXPECT_EQ(c.limits.max_connections_per_address, 2u);
  EXPECT_EQ(c.limits.max_sessions_per_account, 1u);
  EXPECT_EQ(c.limits.read_bytes_per_second, 2048u);
  EXPECT_EQ(c.limits.read_burst_bytes, 4096u);
  EXPECT_EQ(c.limits.stanza_timeout, std::chrono::seconds(9));
  EXPECT_THAT(error_of("[limits]\nread_bytes_per_second = 10\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'limits.read_bytes_per_second'")));
}

TEST(ConfigErrors, BadFederationLists) {
  EXPECT_THAT(error_of("[federation]\ndeny = [\"ok.example\", \"bad domain\"]\n"),
              AllOf(StartsWith("t.toml:2:23: "), HasSubstr("'federation.deny[1]' is not a valid domain")));
  EXPECT_THAT(error_of("[federation]\nallow = \"a.example\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'federation.allow' must be an array of strings")));
  EXPECT_THAT(error_of("[federation]\nconnect_timeout = 0\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("federation.connect_timeout")));
}

TEST(ConfigErrors, TomlSyntaxErrorKeepsLineAndColumn) {
  std::string e = error_of("[server]\nthreads = 4\ndata_dir = \n");
  EXPECT_THAT(e, StartsWith("t.toml:3:12: "));
  EXPECT_GT(e.size(), std::string("t.toml:3:12: ").size());  // toml++'s description follows
  EXPECT_THAT(error_of("[server]\n[server]\n"), StartsWith("t.toml:2:"));
  EXPECT_THAT(error_of("[[host]]\ndomain = \"a.example\nmodules = []\n"), StartsWith("t.toml:2:"));
}

// --- files ---

class ConfigFile : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("parley-config-test-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir_ / "etc");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, std::string_view text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(ConfigFile, LoadResolvesAgainstTheFilesDirectory) {
  fs::path file = write("etc/parley.toml", "[tls]\ncertificate = \"c.pem\"\nprivate_key = \"../k.pem\"\n");
  Config c = parley::server::load_config(file);
  EXPECT_EQ(c.file, file);
  EXPECT_EQ(c.server.data_dir, dir_ / "etc" / "var");
  EXPECT_EQ(c.security.key_file, dir_ / "etc" / "var" / "secret.key");
  EXPECT_EQ(c.tls.certificate, dir_ / "etc" / "c.pem");
  EXPECT_EQ(c.tls.private_key, dir_ / "k.pem");
}

TEST_F(ConfigFile, ErrorsNameThePathAsGiven) {
  fs::path file = write("etc/bad.toml", "[server]\n\nthredas = 4\n");
  try {
    parley::server::load_config(file);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ":3:1: unknown key 'server.thredas'");
  }
}

TEST_F(ConfigFile, MissingFileIsAnErrorNamingIt) {
  fs::path file = dir_ / "nope.toml";
  try {
    parley::server::load_config(file);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(StartsWith(file.string() + ": "), HasSubstr("No such file")));
  }
  EXPECT_THROW(parley::server::load_config(dir_ / "etc"), ConfigError);  // a directory
}

TEST(Config, TheShippedExampleIsValid) {
  // CMake compiles with absolute source paths; the example lives at contrib/ in the tree.
  fs::path example = fs::path(__FILE__).parent_path() / "../../../contrib/parley.example.toml";
  if (!fs::path(__FILE__).is_absolute() || !fs::exists(example)) GTEST_SKIP() << example;
  Config c = parley::server::load_config(example);
  EXPECT_EQ(c.server.data_dir, fs::path("/var/lib/parley"));
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].domain, "example.org");
  EXPECT_TRUE(c.tls.certificate && c.tls.private_key);
  EXPECT_FALSE(c.listen.empty());
}

TEST(Config, DevConfig) {
  Config c = parley::server::dev_config("/home/dev/parley", {"roster", "ping"});
  EXPECT_TRUE(c.file.empty());
  EXPECT_EQ(c.server.data_dir, fs::path("/home/dev/parley/var/dev"));
  EXPECT_EQ(c.security.key_file, fs::path("/home/dev/parley/var/dev/secret.key"));
  EXPECT_EQ(c.tls.certificate, fs::path("/home/dev/parley/var/dev/certs/localhost.pem"));
  EXPECT_EQ(c.tls.private_key, fs::path("/home/dev/parley/var/dev/certs/localhost.key"));
  EXPECT_EQ(c.tls.ca_file, fs::path("/home/dev/parley/var/dev/certs/ca.pem"));
  EXPECT_FALSE(c.database.url);
  EXPECT_FALSE(c.federation.enabled);
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].type, ListenType::c2s);
  EXPECT_EQ(c.listen[0].address, "127.0.0.1");
  EXPECT_EQ(c.listen[0].port, 5222);
  EXPECT_EQ(c.listen[1].type, ListenType::c2s_tls);
  EXPECT_EQ(c.listen[1].address, "127.0.0.1");
  EXPECT_EQ(c.listen[1].port, 5223);
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].domain, "localhost");
  EXPECT_EQ(c.hosts[0].modules, (std::vector<std::string>{"roster", "ping"}));
  EXPECT_EQ(c.find_host("localhost"), &c.hosts[0]);
}

}  // namespace

namespace parley::server {
namespace {

TEST(ConfigModuleSettings, AHostModuleTableIsReadWithTypedGettersAndLines) {
  auto c = parse_config(
      "[[host]]\ndomain = \"a.test\"\nmodules = [\"mam\"]\n[host.mam]\n"
      "archive_expiry = \"30d\"\nmax = 5\nenabled = true\nlist = [\"x\", \"y\"]\nname = \"n\"\n",
      "t.toml", "/base");
  const ModuleSettings& s = c.hosts[0].module_settings.at("mam");
  EXPECT_EQ(s.duration("archive_expiry", std::chrono::seconds(0), std::chrono::seconds(0),
                       std::chrono::seconds(1) * 86400 * 3650),
            std::chrono::seconds(30 * 86400));
  EXPECT_EQ(s.integer("max", 0, 0, 10), 5);
  EXPECT_TRUE(s.boolean("enabled", false));
  EXPECT_EQ(s.strings("list"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(s.string("name", ""), "n");
  EXPECT_EQ(s.integer("absent", 42, 0, 100), 42);
  EXPECT_NO_THROW(s.check_all_read());
}

TEST(ConfigModuleSettings, ErrorsNameTheKeyPathAndLine) {
  auto c = parse_config("[[host]]\ndomain = \"a.test\"\nmodules = [\"mam\"]\n[host.mam]\nmax = 50\ntypo = 1\n",
                        "t.toml", "/base");
  const ModuleSettings& s = c.hosts[0].module_settings.at("mam");
  try {
    s.integer("max", 0, 0, 10);
    FAIL() << "out of range accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("t.toml:5: 'host[0].mam.max' must be between 0 and 10"));
  }
  try {
    s.check_all_read();
    FAIL() << "unread key accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("t.toml:6: unknown key 'host[0].mam.typo'"));
  }
  EXPECT_THROW(s.duration("max", std::chrono::seconds(1), std::chrono::seconds(0), std::chrono::seconds(10)),
               ConfigError);
}

TEST(ConfigModuleSettings, ATableForAModuleNotEnabledIsAnUnknownKey) {
  try {
    parse_config("[[host]]\ndomain = \"a.test\"\nmodules = [\"ping\"]\n[host.mam]\nx = 1\n", "t.toml", "/base");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unknown key 'host[0].mam'"));
  }
}

TEST(ConfigModuleSettings, PluginsResolveAgainstTheBaseDirectory) {
  auto c = parse_config("[server]\nplugins = [\"lib/mod_x.so\", \"/abs/mod_y.so\"]\n", "t.toml", "/base");
  EXPECT_EQ(c.server.plugins, (std::vector<std::filesystem::path>{"/base/lib/mod_x.so", "/abs/mod_y.so"}));
}

}  // namespace
}  // namespace parley::server

namespace parley::server {
namespace {

TEST(ConfigLimits, DefaultsAndValues) {
  auto d = parse_config("", "t.toml", "/base");
  EXPECT_EQ(d.limits.negotiation_timeout, std::chrono::seconds(30));
  EXPECT_EQ(d.limits.max_stanza_bytes, 256u * 1024);
  EXPECT_EQ(d.limits.write_queue_bytes, 1024u * 1024);
  auto c = parse_config("[limits]\nidle_timeout = 60\nauth_attempts = 5\nmax_stanza_bytes = 65536\n", "t.toml", "/base");
  EXPECT_EQ(c.limits.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.limits.auth_attempts, 5);
  EXPECT_EQ(c.limits.max_stanza_bytes, 65536u);
  try {
    parse_config("[limits]\nwrite_queue_bytes = 10\n", "t.toml", "/base");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("t.toml:2:21: 'limits.write_queue_bytes' must be between"));
  }
}

// The parser's nesting and attribute bounds (server/xml/stream_parser.hpp, StreamLimits).
TEST(ConfigLimits, MaxDepthAndMaxAttributes) {
  auto d = parse_config("", "t.toml", "/base");
  EXPECT_EQ(d.limits.max_depth, 64u);
  EXPECT_EQ(d.limits.max_attributes, 64u);
  auto c = parse_config("[limits]\nmax_depth = 8\nmax_attributes = 1024\n", "t.toml", "/base");
  EXPECT_EQ(c.limits.max_depth, 8u);
  EXPECT_EQ(c.limits.max_attributes, 1024u);
  auto e = parse_config("[limits]\nmax_depth = 1024\nmax_attributes = 8\n", "t.toml", "/base");
  EXPECT_EQ(e.limits.max_depth, 1024u);
  EXPECT_EQ(e.limits.max_attributes, 8u);

  EXPECT_EQ(error_of("[limits]\nmax_depth = 7\n"),
            "t.toml:2:13: 'limits.max_depth' must be between 8 and 1024, not 7");
  EXPECT_EQ(error_of("[limits]\nidle_timeout = 60\nmax_depth = 1025\n"),
            "t.toml:3:13: 'limits.max_depth' must be between 8 and 1024, not 1025");
  EXPECT_EQ(error_of("[limits]\nmax_attributes = 7\n"),
            "t.toml:2:18: 'limits.max_attributes' must be between 8 and 1024, not 7");
  EXPECT_EQ(error_of("[limits]\nmax_attributes = 1025\n"),
            "t.toml:2:18: 'limits.max_attributes' must be between 8 and 1024, not 1025");
  EXPECT_THAT(error_of("[limits]\nmax_depth = \"deep\"\n"),
              AllOf(StartsWith("t.toml:2:"), HasSubstr("'limits.max_depth'")));
}

}  // namespace
}  // namespace parley::server

// [database] bounds for a database that is slow or away (docs/configuration.md).
TEST(Config, DatabaseFaultBounds) {
  Config d = parse("");
  EXPECT_EQ(d.database.acquire_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(d.database.query_timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(d.database.connect_timeout, std::chrono::seconds(5));
  EXPECT_EQ(d.database.reconnect_delay_max, std::chrono::milliseconds(5000));
  EXPECT_EQ(d.database.startup_timeout, std::chrono::seconds(0));  // wait for ever

  Config c = parse("[database]\nacquire_timeout = 1500\nquery_timeout = 2500\nconnect_timeout = 3\n"
                   "reconnect_delay_max = 800\nstartup_timeout = 120\n");
  EXPECT_EQ(c.database.acquire_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.database.query_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.database.connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.database.reconnect_delay_max, std::chrono::milliseconds(800));
  EXPECT_EQ(c.database.startup_timeout, std::chrono::seconds(120));

  EXPECT_THAT(error_of("[database]\nacquire_timeout = 0\n"), HasSubstr("'database.acquire_timeout'"));
  EXPECT_THAT(error_of("[database]\nconnect_timeout = 1\n"), HasSubstr("'database.connect_timeout'"));
  EXPECT_THAT(error_of("[database]\nstartup_timeout = -1\n"), HasSubstr("'database.startup_timeout'"));
  EXPECT_THAT(error_of("[database]\nquery_timeout = 0\n"), HasSubstr("'database.query_timeout'"));
}
