#include "tests/support/restartable_server.hpp"

#include <signal.h>

#include <regex>
#include <stdexcept>

namespace parley::test {

RestartableServer::RestartableServer(TestServerOptions options)
    : server_(std::move(options)), c2s_port_(server_.c2s_port()), c2s_tls_port_(server_.c2s_tls_port()) {}

RestartableServer::~RestartableServer() {
  if (process_) process_->stop(SIGTERM);
}

int RestartableServer::restart(int signal) {
  int status = process_ ? process_->stop(signal) : server_.process().stop(signal);
  process_ = std::make_unique<Background>(
      std::vector<std::string>{PARLEY_BINARY, "serve", "--config", server_.config_file()});
  if (!process_->wait_for_stderr(" ready", 60)) {
    throw std::runtime_error("parley serve did not start again:\n" + process_->stderr_text());
  }
  std::smatch m;
  std::string log = process_->stderr_text();
  c2s_port_ = c2s_tls_port_ = 0;
  if (std::regex_search(log, m, std::regex("listening for c2s on 127\\.0\\.0\\.1:(\\d+)"))) {
    c2s_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  if (std::regex_search(log, m, std::regex("listening for c2s-tls on 127\\.0\\.0\\.1:(\\d+)"))) {
    c2s_tls_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  if (c2s_port_ == 0 || c2s_tls_port_ == 0) throw std::runtime_error("no listener ports in:\n" + log);
  return status;
}

ClientOptions RestartableServer::client(bool direct_tls, const std::string& domain) const {
  ClientOptions o = server_.client(direct_tls, domain);
  o.port = direct_tls ? c2s_tls_port_ : c2s_port_;
  return o;
}

std::unique_ptr<XmppClient> RestartableServer::login(const std::string& user, const std::string& password,
                                                     const std::string& resource) {
  auto c = std::make_unique<XmppClient>(client());
  if (c->login(user, password, resource).empty()) throw std::runtime_error("login of " + user + " failed");
  return c;
}

const std::string& RestartableServer::log() {
  return process_ ? process_->stderr_text() : server_.process().stderr_text();
}

}  // namespace parley::test
