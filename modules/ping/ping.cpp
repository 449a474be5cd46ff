// XEP-0199 XMPP Ping: answers pings to the server, and pings bound clients that have been
// silent for an interval, so that a dead link is noticed and its session ended (like
// ejabberd's mod_ping with send_pings and timeout_action kill).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <unordered_map>

#include "modules/ping/ping.hpp"

namespace asio = boost::asio;

namespace parley::modules::ping {
namespace {

constexpr std::string_view kNs = "urn:xmpp:ping";

class Ping final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    using std::chrono::seconds;
    interval_ = host.settings().duration("interval", seconds(300), seconds(1), seconds(86400));
    timeout_ = host.settings().duration("timeout", seconds(60), seconds(1), seconds(3600));
    host.add_disco_feature(std::string(kNs));
    host.hook("iq-get/host/urn:xmpp:ping:ping", [&host](server::Event& ev) {
      host.send(server::make_result(ev.stanza));
      return server::Verdict::handled;
    });
    host.hook("session/bound", [this](server::Event& ev) {
      asio::co_spawn(host_->executor(), keep_pinging(ev.origin), asio::detached);
      return server::Verdict::pass;
    });
    auto answered = [this](server::Event& ev) {
      std::lock_guard lock(mutex_);
      return waiting_.erase(std::string(ev.stanza.id())) > 0 ? server::Verdict::handled : server::Verdict::pass;
    };
    host.hook("iq-result/host", answered, 10);
    host.hook("iq-error/host", answered, 10);  // an error reply still proves the link alive
  }

  void stop() override { stopped_ = true; }

 private:
  // Pings one session every interval until it ends; no answer within the timeout ends it.
  asio::awaitable<void> keep_pinging(std::weak_ptr<server::ClientSession> weak) {
    asio::steady_timer timer(host_->executor());
    for (int n = 0; !stopped_; ++n) {
      timer.expires_after(interval_);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      auto session = weak.lock();
      if (!session || stopped_) co_return;
      // Only idle clients are pinged: one that sent something within the interval is alive.
      if (std::chrono::steady_clock::now() - session->last_received() < interval_) continue;
      // A session hibernating for XEP-0198 resumption has no link to test: its own timeout rules.
      if (session->detached()) continue;
      std::string id = "ping-" + std::to_string(reinterpret_cast<std::uintptr_t>(session.get())) + "-" + std::to_string(n);
      {
        std::lock_guard lock(mutex_);
        waiting_.emplace(id, true);
      }
      server::xml::Element iq("iq", std::string(server::kClientNs));
      iq.set_attr("type", "get");
      iq.set_attr("id", id);
      iq.add_child("ping", std::string(kNs));
      server::Stanza st{std::move(iq), server::StanzaKind::iq, "get",
                        *server::Jid::parse(host_->domain()), session->jid()};
      st.sync_addresses();
      session->send(std::move(st));
      session.reset();
      timer.expires_after(timeout_);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      bool unanswered;
      {
        std::lock_guard lock(mutex_);
        unanswered = waiting_.erase(id) > 0;
      }
      if (unanswered) {
        if (auto s = weak.lock()) s->close("connection-timeout");
        co_return;
      }
    }
  }

  std::chrono::seconds interval_{300};
  std::chrono::seconds timeout_{60};
  server::HostContext* host_ = nullptr;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::unordered_map<std::string, bool> waiting_;
};

}  // namespace

server::ModuleInfo info() {
  return {"ping", "XEP-0199: answers pings and pings idle clients",
          [] { return std::make_unique<Ping>(); }};
}

}  // namespace parley::modules::ping
