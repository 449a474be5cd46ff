// Tells a user about a sign-in from a client and a network not seen lately (the seed
// documents' login risk control): the core records every sign-in (migrations/0006); when an
// account binds a resource, this module looks at its earlier successful sign-ins within
// `days` and, if neither this client (resource) nor this network appears, sends the account
// a message from the server.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <ctime>
#include <pqxx/pqxx>

#include "modules/signin_notice/signin_notice.hpp"
#include "modules/signin_notice/signin_rules.hpp"
#include "server/log.hpp"
#include "storage/database.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::signin_notice {
namespace {

using server::Jid;
using server::Stanza;
using server::Verdict;

std::string utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

class SigninNotice final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    days_ = static_cast<int>(host.settings().integer("days", 30, 1, 3650));
    // Earlier successful sign-ins in the window, before this one (the core records this one
    // at the same moment, with a `now()` at or after `$4`).
    host.storage().database().prepare(
        "signin_notice.earlier",
        "SELECT COALESCE(resource, ''), address FROM signins"
        " WHERE server_host = $1 AND username = $2 AND success"
        " AND at > now() - make_interval(days => $3) AND at < to_timestamp($4)"
        " ORDER BY at DESC LIMIT 1000");
    host.hook("session/bound", [this](server::Event& ev) {
      // Synchronous handlers only here: the check runs beside the session.
      double bound_at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      asio::co_spawn(host_->executor(),
                     check(ev.origin->jid(), std::string(ev.origin->remote_address()), bound_at - 0.5),
                     asio::detached);
      return Verdict::pass;
    });
  }

 private:
  asio::awaitable<void> check(Jid full, std::string address, double before) {
    std::string domain(full.domain()), user(full.local());
    int days = days_;
    auto load = [domain, user, days, before](pqxx::connection& c) {
      pqxx::read_transaction tx{c};
      std::vector<EarlierSignin> out;
      for (const auto& row : tx.exec_prepared("signin_notice.earlier", domain, user, days, before)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
      }
      return out;
    };
    auto earlier = co_await host_->storage().run(std::move(load));
    if (!earlier) {
      server::log::warning("signin_notice for {}: {}", full.bare().str(), earlier.error().message);
      co_return;
    }
    std::string resource(full.resource());
    if (!deserves_notice(*earlier, resource, address)) co_return;
    server::log::info("signin_notice: {} signed in from a new client and network", full.bare().str());
    server::xml::Element message("message", std::string(server::kClientNs));
    message.set_attr("type", "normal");
    message.add_child("subject", std::string(server::kClientNs)).add_text("New sign-in");
    message.add_child("body", std::string(server::kClientNs))
        .add_text(notice_text(resource, address, utc(std::time(nullptr))));
    Stanza st{std::move(message), server::StanzaKind::message, "normal", *Jid::make("", full.domain()), full.bare()};
    st.sync_addresses();
    co_await host_->route(std::move(st));
  }

  server::HostContext* host_ = nullptr;
  int days_ = 30;
};

}  // namespace

server::ModuleInfo info() {
  return {"signin_notice", "tells users about sign-ins from a new client and network",
          [] { return std::make_unique<SigninNotice>(); }};
}

}  // namespace parley::modules::signin_notice
