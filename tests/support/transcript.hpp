#pragma once
// A logged-in client for transcript-style tests ("alice sends ... / alice receives ..."),
// that keeps what it receives until the test looks for it, so that the order of unrelated
// stanzas does not matter, and that can tell when nothing more is on its way (barrier()).

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/support/xmpp_client.hpp"

namespace parley::test {

/// A client logged in as `user` with `password` and `resource`; throws naming the user if
/// the login fails.
inline std::unique_ptr<XmppClient> logged_in(const ClientOptions& options, const std::string& user,
                                             const std::string& password, const std::string& resource) {
  auto client = std::make_unique<XmppClient>(options);
  if (client->login(user, password, resource).empty()) throw std::runtime_error("login of " + user + " failed");
  return client;
}

class Transcript {
 public:
  using Match = std::function<bool(const server::xml::Element&)>;

  explicit Transcript(std::unique_ptr<XmppClient> client) : client_(std::move(client)) {
    if (!client_ || client_->jid().empty()) throw std::runtime_error("not logged in");
  }
  const std::string& jid() const { return client_->jid(); }
  std::string bare() const { return jid().substr(0, jid().find('/')); }
  XmppClient& client() { return *client_; }
  void send(std::string_view xml) { client_->send(xml); }

  /// The first stanza (kept, or arriving within `timeout`) that matches; it is taken out.
  std::optional<server::xml::Element> expect(const Match& match,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
      if (match(*it)) {
        server::xml::Element e = std::move(*it);
        inbox_.erase(it);
        return e;
      }
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto e = client_->receive(left);
      if (!e) return std::nullopt;
      if (match(*e)) return e;
      inbox_.push_back(std::move(*e));
    }
  }

  /// Sends an iq with id `id` and returns its result or error, nullopt if none comes within
  /// `timeout`.
  std::optional<server::xml::Element> try_iq(const std::string& id, const std::string& xml,
                                             std::chrono::milliseconds timeout) {
    send(xml);
    return expect([&](const server::xml::Element& e) {
      return e.name() == "iq" && e.attr("id") == id && (e.attr("type") == "result" || e.attr("type") == "error");
    }, timeout);
  }

  /// Sends an iq with id `id` and returns its result or error (throws if none comes).
  server::xml::Element iq(const std::string& id, const std::string& xml) {
    auto r = try_iq(id, xml, std::chrono::seconds(10));
    if (!r) throw std::runtime_error("no answer to iq " + id);
    return *r;
  }

  /// Everything the server queued for this client before now has arrived: the answer to a
  /// ping comes after it (one session's stanzas are handled and written in order).
  void barrier() {
    std::string id = "barrier" + std::to_string(++serial_);
    iq(id, "<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>");
  }

  /// How many kept stanzas match (call after barrier()).
  std::size_t count(const Match& match) const {
    return static_cast<std::size_t>(std::count_if(inbox_.begin(), inbox_.end(), match));
  }
  void clear() { inbox_.clear(); }

  /// What is kept, one line per stanza, for failure messages.
  std::string kept() const {
    std::string out;
    for (const auto& e : inbox_) {
      out += e.name() + " from=" + std::string(e.attr("from").value_or("-")) + " to=" +
             std::string(e.attr("to").value_or("-")) + " type=" + std::string(e.attr("type").value_or("-")) + "\n";
    }
    return out;
  }

 private:
  std::unique_ptr<XmppClient> client_;
  std::deque<server::xml::Element> inbox_;
  int serial_ = 0;
};

/// Matches a message whose body is `text`.
inline Transcript::Match message_with_body(const std::string& text) {
  return [text](const server::xml::Element& e) { return e.name() == "message" && body(e) == text; };
}

/// Matches an error stanza of kind `name` whose error condition is `condition`.
inline Transcript::Match error_of(const std::string& name, const std::string& condition) {
  return [name, condition](const server::xml::Element& e) {
    return e.name() == name && e.attr("type") == "error" && error_condition(e) == condition;
  };
}

}  // namespace parley::test
