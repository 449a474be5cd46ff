// XEP-0199 XMPP Ping: answers pings to the server, and pings bound clients that have been
// silent for an interval, so that a dead link is noticed and its session ended (like
// ejabberd's mod_ping with send_pings and timeout_action kill).
#include <boost/asio/steady_timer.hpp>
#include <memory>
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
      std::make_shared<Pinger>(*this, ev.origin)->wait(interval_);
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
  // A timer and its handler, not a coroutine: an idle session keeps only this object and
  // the timer's pending wait (about 0.2 KiB).
  struct Pinger : std::enable_shared_from_this<Pinger> {
    Pinger(Ping& module, std::weak_ptr<server::ClientSession> session)
        : module(module), timer(module.host_->executor()), session(std::move(session)) {}

    void wait(std::chrono::seconds delay) {
      timer.expires_after(delay);
      timer.async_wait([self = shared_from_this()](boost::system::error_code) {
        if (self->module.stopped_) return;
        if (self->waiting_id.empty()) {
          self->on_interval();
        } else {
          self->on_timeout();
        }
      });
    }

    void on_interval() {
      auto s = session.lock();
      if (!s) return;
      ++round;
      // Only idle clients are pinged: one that sent something within the interval is alive.
      // A session hibernating for XEP-0198 resumption has no link to test: its own timeout rules.
      if (std::chrono::steady_clock::now() - s->last_received() < module.interval_ || s->detached()) {
        wait(module.interval_);
        return;
      }
      waiting_id = "ping-" + std::to_string(reinterpret_cast<std::uintptr_t>(s.get())) + "-" + std::to_string(round);
      {
        std::lock_guard lock(module.mutex_);
        module.waiting_.emplace(waiting_id, true);
      }
      server::xml::Element iq("iq", std::string(server::kClientNs));
      iq.set_attr("type", "get");
      iq.set_attr("id", waiting_id);
      iq.add_child("ping", std::string(kNs));
      server::Stanza st{std::move(iq), server::StanzaKind::iq, "get", *server::Jid::parse(module.host_->domain()),
                        s->jid()};
      st.sync_addresses();
      s->send(std::move(st));
      wait(module.timeout_);
    }

    void on_timeout() {
      bool unanswered;
      {
        std::lock_guard lock(module.mutex_);
        unanswered = module.waiting_.erase(waiting_id) > 0;
      }
      waiting_id.clear();
      if (unanswered) {
        if (auto s = session.lock()) s->close("connection-timeout");
        return;
      }
      wait(module.interval_);
    }

    Ping& module;
    asio::steady_timer timer;
    std::weak_ptr<server::ClientSession> session;
    std::string waiting_id;  // the ping awaiting its answer, if any
    int round = 0;
  };

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
