#include "tests/support/test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include <regex>
#include <stdexcept>

namespace parley::test {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TestServer::TestServer(TestServerOptions options) : db_(options.cluster) {
  if (!options.ca_from.empty()) {
    std::filesystem::create_directories(dir_ / "certs");
    for (const char* f : {"ca.pem", "ca.key"}) {
      std::filesystem::copy_file(options.ca_from + "/" + f, dir_ / "certs" + "/" + f);
    }
  }
  std::vector<std::string> cert_args{"cert", "dev", "--out", dir_ / "certs"};
  for (const auto& d : options.domains) cert_args.insert(cert_args.end(), {"--domain", d});
  auto certs = parley(cert_args);
  if (certs.exit_code != 0) throw std::runtime_error("cert dev failed: " + certs.err);

  std::string modules;
  for (const auto& m : options.modules) modules += (modules.empty() ? "\"" : ", \"") + m + "\"";
  std::string plugins;
  for (const auto& p : options.plugins) plugins += (plugins.empty() ? "\"" : ", \"") + p + "\"";
  std::string config = "[server]\ndata_dir = \"var\"\nthreads = 2\nplugins = [" + plugins + "]\n\n[database]\nurl = \"" + db_.conninfo() +
                       "\"\npool_size = 4\n" + options.database + "\n[security]\nscram_iterations = 4096\n" + options.security + "\n"
                       "[tls]\ncertificate = \"certs/" + options.domains.front() + ".pem\"\n"
                       "private_key = \"certs/" + options.domains.front() + ".key\"\nca_file = \"certs/ca.pem\"\n\n"
                       "[[listen]]\ntype = \"c2s\"\naddress = \"127.0.0.1\"\nport = 0\n\n"
                       "[[listen]]\ntype = \"c2s-tls\"\naddress = \"127.0.0.1\"\nport = 0\n\n";
  if (options.s2s_port != 0) {
    config += "[[listen]]\ntype = \"s2s\"\naddress = \"" + options.s2s_address + "\"\nport = " +
              std::to_string(options.s2s_port) + "\n\n";
  }
  if (options.s2s_tls_port != 0) {
    config += "[[listen]]\ntype = \"s2s-tls\"\naddress = \"" + options.s2s_address + "\"\nport = " +
              std::to_string(options.s2s_tls_port) + "\n\n";
  }
  for (const auto& d : options.domains) {
    config += "[[host]]\ndomain = \"" + d + "\"\nmodules = [" + modules + "]\n";
    if (d != options.domains.front() && !options.one_certificate) {
      config += "certificate = \"certs/" + d + ".pem\"\nprivate_key = \"certs/" + d + ".key\"\n";
    }
    config += "\n";
  }
  if (!options.federation) config += "[federation]\nenabled = false\n\n";
  write_file(config_file(), config + options.extra_config);
  auto migrate = parley({"migrate", "--config", config_file()});
  if (migrate.exit_code != 0) throw std::runtime_error("migrate failed: " + migrate.err);

  process_ = std::make_unique<Background>(std::vector<std::string>{PARLEY_BINARY, "serve", "--config", config_file()});
  if (!process_->wait_for_stderr(" ready", 60)) {
    throw std::runtime_error("parley serve did not start:\n" + process_->stderr_text());
  }
  std::smatch m;
  std::string log = process_->stderr_text();
  if (std::regex_search(log, m, std::regex("listening for c2s on 127\\.0\\.0\\.1:(\\d+)"))) {
    c2s_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  if (std::regex_search(log, m, std::regex("listening for c2s-tls on 127\\.0\\.0\\.1:(\\d+)"))) {
    c2s_tls_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  if (c2s_port_ == 0 || c2s_tls_port_ == 0) throw std::runtime_error("no listener ports in:\n" + log);
}

TestServer::~TestServer() {
  if (process_) process_->stop(SIGTERM);
}

void TestServer::add_user(const std::string& jid, const std::string& password) {
  auto r = parley({"user", "add", jid, "--config", config_file()}, password + "\n");
  if (r.exit_code != 0) throw std::runtime_error("user add " + jid + " failed: " + r.err);
}

ClientOptions TestServer::client(bool direct_tls, const std::string& domain) const {
  ClientOptions o;
  o.port = direct_tls ? c2s_tls_port_ : c2s_port_;
  o.direct_tls = direct_tls;
  o.domain = domain;
  o.ca_file = dir_ / "certs/ca.pem";
  return o;
}

std::unique_ptr<XmppClient> TestServer::login(const std::string& user, const std::string& password,
                                              const std::string& resource, const std::string& domain) {
  auto c = std::make_unique<XmppClient>(client(false, domain));
  if (c->login(user, password, resource).empty()) throw std::runtime_error("login of " + user + " failed");
  return c;
}

}  // namespace parley::test
