#include "federation/dialback.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "federation/s2s_dialer.hpp"
#include "federation/s2s_protocol.hpp"
#include "server/log.hpp"

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace parley::federation {

namespace xml = server::xml;

namespace {

// The step on the secured stream to the authoritative server: one <db:verify/>, its answer.
class VerifyStep final : public Dialer::Step {
 public:
  VerifyStep(std::string stream_id, std::string key) : stream_id_(std::move(stream_id)), key_(std::move(key)) {}
  bool valid() const { return valid_; }

  asio::awaitable<bool> after_tls(Dialer& dialer, S2sConnection& conn, const OpenedStream&) override {
    co_await conn.write(dialback_verify_request(dialer.local(), dialer.remote(), stream_id_, key_));
    for (;;) {
      StreamEvent ev = co_await conn.next();
      const xml::Element* answer = std::get_if<xml::Element>(&ev);
      if (answer == nullptr || is_stream_error(*answer)) {
        dialer.fail("no dialback answer: " + describe(ev, conn.timed_out()));
        co_return false;
      }
      // XEP-0220 §2.4: the answer to this request only.
      if (!is_dialback(*answer, "verify") || answer->attr("id") != stream_id_ ||
          answer->attr("from") != dialer.remote() || answer->attr("to") != dialer.local()) {
        continue;
      }
      valid_ = answer->attr("type") == "valid";
      co_return true;
    }
  }

 private:
  std::string stream_id_, key_;
  bool valid_ = false;
};

}  // namespace

asio::awaitable<bool> verify_dialback_key(Federation& federation, asio::any_io_executor executor,
                                          std::string receiving, std::string originating, std::string stream_id,
                                          std::string key) {
  std::string label = "s2s dialback " + receiving + " -> " + originating;
  Dialer dialer(federation, executor, receiving, originating, label);
  VerifyStep step(std::move(stream_id), std::move(key));
  auto conn = co_await dialer.dial(step);
  if (!conn) co_return false;
  co_await (conn->close() || conn->watchdog());
  server::log::info("{}: the authoritative server says the key is {}", label, step.valid() ? "valid" : "invalid");
  co_return step.valid();
}

}  // namespace parley::federation
