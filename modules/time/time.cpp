// XEP-0202 Entity Time: the server's clock, in UTC.
#include "modules/time/time.hpp"

#include <chrono>
#include <ctime>

namespace parley::modules::time {
namespace {

constexpr std::string_view kNs = "urn:xmpp:time";

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
  return std::string(buf) + frac;  // XEP-0082 DateTime
}

class Time final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host.add_disco_feature(std::string(kNs));
    host.hook("iq-get/host/urn:xmpp:time:time", [&host](server::Event& ev) {
      auto reply = server::make_result(ev.stanza);
      auto& t = reply.element.add_child("time", std::string(kNs));
      t.add_child("tzo", std::string(kNs)).add_text("+00:00");
      t.add_child("utc", std::string(kNs)).add_text(utc_now());
      host.send(std::move(reply));
      return server::Verdict::handled;
    });
  }
};

}  // namespace

server::ModuleInfo info() {
  return {"time", "XEP-0202: the server's time", [] { return std::make_unique<Time>(); }};
}

}  // namespace parley::modules::time
