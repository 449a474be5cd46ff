// Interop with a real client library from Debian: python3-slixmpp (1.8 in Debian 12) logs in
// to a `parley serve` as alice, verifying the server's certificate against the test CA, and
// exchanges a chat message with bob, who uses the test client. The slixmpp side is
// tests/interop/slixmpp_client.py; it prints what it received as one line of JSON.
//
// slixmpp missing is a failure, not a skip: contrib/dev.sh installs python3-slixmpp.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

// Debian's interpreter, where python3-slixmpp is installed; another python3 earlier on PATH
// (pyenv, a virtualenv) would not see it.
const std::string kPython = "/usr/bin/python3";
const std::string kScript = std::string(PARLEY_SOURCE_DIR) + "/tests/interop/slixmpp_client.py";
// XML specials and non-ASCII text, both ways, to see them escaped and unescaped correctly.
const std::string kAliceBody = "hi bob & <co> \xC3\xA9t\xC3\xA9 \xE2\x9C\x93";
const std::string kBobReplyXml = "got it &amp; &lt;b&gt;thanks&lt;/b&gt;? \xE2\x9C\x93";  // escaped, as in <body>
const std::string kBobReply = "got it & <b>thanks</b>? \xE2\x9C\x93";
// The script gives up by itself after this many seconds (and is killed 10 s later at worst).
const std::string kScriptTimeout = "15";

// The value of "key": "..." in the script's one-line JSON (json.dumps' own format, keys unique),
// or nullopt when the key is missing or not a string.
std::optional<std::string> json_string(const std::string& json, const std::string& key) {
  std::string start = "\"" + key + "\": \"";
  auto at = json.find(start);
  if (at == std::string::npos) return std::nullopt;
  std::string value;
  for (auto i = at + start.size(); i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') return value;
    if (c == '\\' && i + 1 < json.size()) {
      char e = json[++i];
      value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;  // \" \\ \/ as themselves
    } else {
      value += c;
    }
  }
  return std::nullopt;
}

std::string escape_attr(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '\'' ? "&apos;" : c == '&' ? "&amp;" : c == '<' ? "&lt;" : std::string(1, c);
  return out;
}

class InteropSlixmpp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    server_->add_user("alice@localhost", "alice-secret");
    server_->add_user("bob@localhost", "bob-secret");
    server_->add_user("carol@localhost", "carol-secret");  // fails to log in below
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    Ran probe;
    try {
      probe = run({kPython, "-c", "import slixmpp; print(slixmpp.__version__)"});
    } catch (const std::exception& e) {
      probe.err = e.what();
    }
    ASSERT_EQ(probe.exit_code, 0)
        << "this test needs Debian's python3 and python3-slixmpp: run contrib/dev.sh, or "
           "apt-get install --no-install-recommends python3 python3-slixmpp\n"
        << probe.err;
    version_ = probe.out.substr(0, probe.out.find('\n'));
  }

  /// Runs the script as alice@localhost/slixmpp; `extra` adds or overrides arguments.
  static Ran slixmpp(bool direct_tls, const std::vector<std::string>& extra) {
    auto port = direct_tls ? server_->c2s_tls_port() : server_->c2s_port();
    std::vector<std::string> argv{kPython, kScript,
                                  "--port", std::to_string(port),
                                  "--ca-file", server_->dir() + "/certs/ca.pem",
                                  "--jid", "alice@localhost/slixmpp",
                                  "--password", "alice-secret",
                                  "--peer", "bob@localhost",
                                  "--body", kAliceBody,
                                  "--timeout", kScriptTimeout};
    if (direct_tls) argv.push_back("--direct-tls");
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }

  static TestServer* server_;
  std::string version_;
};
TestServer* InteropSlixmpp::server_ = nullptr;

struct Transport {
  bool direct_tls;
  std::string tls_max;    // "1.3" (slixmpp's default) or "1.2"
  std::string mechanism;  // what slixmpp ends up using
};

class InteropSlixmppTransport : public InteropSlixmpp, public ::testing::WithParamInterface<Transport> {};

// slixmpp 1.8 binds channels only with tls-unique, which exists up to TLS 1.2: there it logs
// in with SCRAM-SHA-256-PLUS. On TLS 1.3 its -PLUS attempts (p=tls-unique) are refused, and
// it falls back to SCRAM-SHA-256 with the "y" flag, which parley accepts on TLS 1.3 (see
// C2sSession::channel_binding_info).
TEST_P(InteropSlixmppTransport, LogsInVerifyingTheCertificateAndExchangesAMessage) {
  const bool direct_tls = GetParam().direct_tls;
  const std::string tls_max = GetParam().tls_max;
  auto bob = server_->login("bob", "bob-secret", "phone");
  bob->send("<presence/>");  // available: messages to bob's bare JID reach this resource

  // alice (slixmpp) sends to bob's bare JID, then waits for his answer.
  auto alice = std::async(std::launch::async, [direct_tls, tls_max] { return slixmpp(direct_tls, {"--tls-max", tls_max}); });
  // bob waits for it, but not after slixmpp gave up.
  std::optional<server::xml::Element> m;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!m && std::chrono::steady_clock::now() < deadline) {
    bool gave_up = alice.wait_for(0s) == std::future_status::ready;
    m = bob->receive_named("message", 200ms);  // once more after it exited
    if (gave_up) break;
  }
  if (!m) {
    auto r = alice.get();
    FAIL() << "bob received no message; slixmpp " << version_ << " exited " << r.exit_code << ":\n" << r.err;
  }
  EXPECT_EQ(m->attr("from"), "alice@localhost/slixmpp");
  EXPECT_EQ(m->attr("to"), "bob@localhost");
  EXPECT_EQ(m->attr("type"), "chat");
  auto* body = m->find_child("body", "jabber:client");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->text(), kAliceBody);

  // bob answers alice's full JID; slixmpp reports what it received.
  bob->send("<message to='" + escape_attr(m->attr("from").value_or("")) + "' type='chat' id='r1'><body>" +
            kBobReplyXml + "</body></message>");
  auto r = alice.get();
  ASSERT_EQ(r.exit_code, 0) << "slixmpp " << version_ << ":\n" << r.err;
  EXPECT_EQ(json_string(r.out, "jid"), "alice@localhost/slixmpp") << r.out;
  EXPECT_EQ(json_string(r.out, "from"), "bob@localhost/phone") << r.out;
  EXPECT_EQ(json_string(r.out, "type"), "chat") << r.out;
  EXPECT_EQ(json_string(r.out, "body"), kBobReply) << r.out;
  EXPECT_EQ(json_string(r.out, "mechanism"), GetParam().mechanism) << r.out;
  EXPECT_EQ(json_string(r.out, "tls_version"), "TLSv" + tls_max) << r.out;
  if (direct_tls) {
    EXPECT_EQ(json_string(r.out, "alpn"), "xmpp-client") << r.out;  // XEP-0368
  }
}

INSTANTIATE_TEST_SUITE_P(All, InteropSlixmppTransport,
                         ::testing::Values(Transport{false, "1.3", "SCRAM-SHA-256"},
                                           Transport{true, "1.3", "SCRAM-SHA-256"},
                                           Transport{false, "1.2", "SCRAM-SHA-256-PLUS"},
                                           Transport{true, "1.2", "SCRAM-SHA-256-PLUS"}),
                         [](const auto& info) {
                           return std::string(info.param.direct_tls ? "DirectTls" : "StartTls") +
                                  (info.param.tls_max == "1.3" ? "13" : "12");
                         });

// The script really verifies the certificate: trusting another CA, it fails before anything
// is sent.
TEST_F(InteropSlixmpp, RefusesACertificateFromAnotherCa) {
  TempDir other;
  auto certs = parley({"cert", "dev", "--out", other / "certs", "--domain", "localhost"});
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  for (bool direct_tls : {false, true}) {
    auto r = slixmpp(direct_tls, {"--ca-file", other / "certs/ca.pem"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

// ... and its name: the certificate is for localhost, the JID's domain is example.org. Direct
// TLS only: over STARTTLS the server answers host-unknown before TLS starts.
TEST_F(InteropSlixmpp, RefusesACertificateForAnotherName) {
  auto r = slixmpp(true, {"--jid", "alice@example.org/slixmpp"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("certificate is not valid for 'example.org'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// Roster, presence and the archive with slixmpp's own plugins: alice (slixmpp) adds bob to
// her roster and asks to subscribe; bob (test client) approves and is online; they chat;
// alice's archive query with=bob returns both messages.
TEST(InteropSlixmppIm, RosterSubscriptionPresenceChatAndArchiveQuery) {
  TestServerOptions opts;
  opts.modules = {"message", "roster", "presence", "mam", "disco", "ping"};
  TestServer server(opts);
  server.add_user("alice@localhost", "alice-secret");
  server.add_user("bob@localhost", "bob-secret");
  auto bob = server.login("bob", "bob-secret", "phone");
  bob->send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>");
  bob->send("<presence/>");

  std::vector<std::string> argv{kPython, kScript, "--port", std::to_string(server.c2s_port()), "--ca-file",
                                server.dir() + "/certs/ca.pem", "--jid", "alice@localhost/slixmpp", "--password",
                                "alice-secret", "--peer", "bob@localhost", "--mode", "im", "--body", kAliceBody,
                                "--timeout", kScriptTimeout};
  auto alice = std::async(std::launch::async, [argv] { return run(argv); });

  // bob approves alice's request, then answers her chat message.
  bool approved = false, answered = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!answered && std::chrono::steady_clock::now() < deadline &&
         alice.wait_for(0s) != std::future_status::ready) {
    auto e = bob->receive(200ms);
    if (!e) continue;
    if (e->name() == "presence" && e->attr("type") == "subscribe" && !approved) {
      bob->send("<presence to='alice@localhost' type='subscribed'/>");
      approved = true;
    } else if (e->name() == "message" && e->attr("type") == "chat") {
      bob->send("<message to='" + escape_attr(e->attr("from").value_or("")) + "' type='chat'><body>" +
                kBobReplyXml + "</body></message>");
      answered = true;
    }
  }
  auto r = alice.get();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(approved);
  EXPECT_TRUE(answered);
  EXPECT_NE(r.out.find("\"subscribed\": true"), std::string::npos) << r.out;
  EXPECT_EQ(json_string(r.out, "roster_subscription"), "to") << r.out;
  EXPECT_EQ(json_string(r.out, "body"), kBobReply) << r.out;
  EXPECT_EQ(json_string(r.out, "archive_complete"), "true") << r.out;
  // Both directions archived, in order: alice's message, then bob's answer.
  auto first = r.out.find("\"archive\": [");
  ASSERT_NE(first, std::string::npos) << r.out;
  std::string archive = r.out.substr(first);
  auto mine = archive.find("\"from\": \"alice@localhost/slixmpp\"");
  auto his = archive.find("\"from\": \"bob@localhost/phone\"");
  EXPECT_NE(mine, std::string::npos) << r.out;
  EXPECT_NE(his, std::string::npos) << r.out;
  EXPECT_LT(mine, his) << r.out;
}

}  // namespace
}  // namespace parley::test
