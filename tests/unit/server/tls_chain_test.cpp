// The certificate chain the server sends (server/net/tls.cpp): built once when the
// configuration is loaded, with the intermediates from the certificate file or from the
// trust store, never the self-signed root. Checked from a client's side of a real (in-memory)
// TLS handshake, against a three-level PKI made with the openssl command.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "server/config.hpp"
#include "server/net/tls.hpp"

namespace parley::server::net {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// root -> intermediate -> leaf (CN=localhost), and a leaf signed by the root directly.
class TlsChain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("parley-tls-chain-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const std::string d = dir_->string();
    const std::string key = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ";
    const std::string q = " >/dev/null 2>&1";
    std::vector<std::string> steps = {
        key + d + "/root.key",
        "openssl req -x509 -new -key " + d + "/root.key -subj /CN=Root -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out " + d + "/root.pem",
        key + d + "/inter.key",
        "openssl req -new -key " + d + "/inter.key -subj /CN=Intermediate -out " + d + "/inter.csr",
        "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' > " + d + "/ca.ext",
        "openssl x509 -req -in " + d + "/inter.csr -CA " + d + "/root.pem -CAkey " + d + "/root.key -CAcreateserial -days 2 -extfile " + d + "/ca.ext -out " + d + "/inter.pem",
        key + d + "/leaf.key",
        "openssl req -new -key " + d + "/leaf.key -subj /CN=localhost -out " + d + "/leaf.csr",
        "printf 'subjectAltName=DNS:localhost\\n' > " + d + "/leaf.ext",
        "openssl x509 -req -in " + d + "/leaf.csr -CA " + d + "/inter.pem -CAkey " + d + "/inter.key -CAcreateserial -days 2 -extfile " + d + "/leaf.ext -out " + d + "/leaf.pem",
        "openssl x509 -req -in " + d + "/leaf.csr -CA " + d + "/root.pem -CAkey " + d + "/root.key -CAcreateserial -days 2 -extfile " + d + "/leaf.ext -out " + d + "/direct.pem",
    };
    for (const auto& step : steps) ASSERT_EQ(std::system((step + q).c_str()), 0) << step;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static fs::path file(const std::string& name) { return *dir_ / name; }
  static fs::path concat(const std::string& name, const std::vector<std::string>& parts) {
    std::ofstream out(file(name));
    for (const auto& p : parts) out << slurp(file(p));
    return file(name);
  }

  // The subjects of the chain a client receives (leaf first) in a handshake with a server
  // configured with `certificate` and, optionally, [tls] ca_file.
  static std::vector<std::string> received_chain(const fs::path& certificate, std::optional<fs::path> ca_file) {
    Config config;
    config.tls.certificate = certificate;
    config.tls.private_key = file("leaf.key");
    config.tls.ca_file = std::move(ca_file);
    TlsContexts contexts(config);
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
    SSL* client = SSL_new(client_ctx);
    SSL* server = SSL_new(contexts.server(false).native_handle());
    BIO *client_io = nullptr, *server_io = nullptr;
    BIO_new_bio_pair(&client_io, 0, &server_io, 0);
    SSL_set_bio(client, client_io, client_io);
    SSL_set_bio(server, server_io, server_io);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (int i = 0, done = 0; i < 20 && done < 2; ++i) {
      done = (SSL_do_handshake(client) == 1) + (SSL_do_handshake(server) == 1);
    }
    std::vector<std::string> subjects;
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        char name[256];
        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(chain, i)), name, sizeof name);
        subjects.emplace_back(name);
      }
    }
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(client_ctx);
    return subjects;
  }

  static fs::path* dir_;
};
fs::path* TlsChain::dir_ = nullptr;

using Chain = std::vector<std::string>;

TEST_F(TlsChain, AFileWithTheWholeChainSendsItWithoutTheRoot) {
  EXPECT_EQ(received_chain(concat("full.pem", {"leaf.pem", "inter.pem", "root.pem"}), std::nullopt),
            (Chain{"/CN=localhost", "/CN=Intermediate"}));
  EXPECT_EQ(received_chain(concat("full2.pem", {"leaf.pem", "inter.pem", "root.pem"}), file("root.pem")),
            (Chain{"/CN=localhost", "/CN=Intermediate"}));
}

TEST_F(TlsChain, ACertificateIssuedByTheRootAloneIsSentAlone) {
  // What `parley cert dev` writes: the leaf, then the CA that signed it.
  EXPECT_EQ(received_chain(concat("dev.pem", {"direct.pem", "root.pem"}), file("root.pem")), (Chain{"/CN=localhost"}));
}

TEST_F(TlsChain, IntermediatesMissingFromTheFileAreTakenFromTheTrustStore) {
  EXPECT_EQ(received_chain(file("leaf.pem"), concat("store.pem", {"root.pem", "inter.pem"})),
            (Chain{"/CN=localhost", "/CN=Intermediate"}));
}

TEST_F(TlsChain, AChainThatCannotBeCompletedIsSentAsFarAsItGoes) {
  // The root is unknown to the server: leaf and intermediate still go out.
  EXPECT_EQ(received_chain(concat("partial.pem", {"leaf.pem", "inter.pem"}), file("direct.pem")),
            (Chain{"/CN=localhost", "/CN=Intermediate"}));
}

}  // namespace
}  // namespace parley::server::net
