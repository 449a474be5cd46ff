// XEP-0077 In-Band Registration: a new account before authentication (§3.1, through the
// core's preauth events), and for accounts that are logged in what is on file (§3.1,
// <registered/>), password change (§3.3) and account removal (§3.2). Every change is
// limited per client address.
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "modules/register/rate_limiter.hpp"
#include "modules/register/register.hpp"
#include "server/accounts.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::registration {
namespace {

using server::Event;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::UnauthenticatedClient;
using server::Verdict;
using server::xml::Element;

constexpr std::string_view kNs = "jabber:iq:register";

// §3.3: "The server or service SHOULD NOT return the original XML sent in IQ error stanzas
// related to password changes" (it holds the password); the same for every answer here.
Stanza error_reply(const Stanza& request, const StanzaError& error) {
  auto reply = server::make_error(request, error);
  reply.element.remove_children("query", kNs);
  return reply;
}

const Element& query_of(const Stanza& st) {
  for (const auto& child : st.element.children()) return child;
  return st.element;  // not reached: the router dispatches iq get/set by their payload
}

class Register final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    auto per_hour = host.settings().integer("per_address_per_hour", 5, 0, 1000000);
    limiter_ = std::make_unique<RateLimiter>(static_cast<std::size_t>(per_hour), std::chrono::hours(1));
    host.add_disco_feature(std::string(kNs));
    // §3.1 before login: the stream feature says registration is possible.
    host.add_stream_feature("<register xmlns='http://jabber.org/features/iq-register'/>", true);
    host.hook("iq-get/preauth/jabber:iq:register:query", [this](Event& ev) { return form(ev); });
    host.hook_async("iq-set/preauth/jabber:iq:register:query", [this](Event& ev) { return create(ev); });
    // §3.3 sends to the server's domain; §3.2 recommends no 'to' at all. Both are answered.
    for (const char* to : {"host", "self"}) {
      host.hook(std::string("iq-get/") + to + "/jabber:iq:register:query", [this](Event& ev) { return get(ev); });
      host.hook_async(std::string("iq-set/") + to + "/jabber:iq:register:query", [this](Event& ev) { return set(ev); });
    }
  }

 private:
  // The account the request is about: the sender's, if it is an account of this host.
  std::optional<Jid> account_of(const Event& ev) const {
    if (ev.origin->jid().domain() != host_->domain()) return std::nullopt;
    return ev.origin->jid().bare();
  }

  // §3.1: to an entity that is registered, <registered/> and what is on file (the password
  // element stays empty: it is never stored).
  Verdict get(Event& ev) {
    if (!ev.origin) return Verdict::pass;  // another server's: the router's service-unavailable
    auto account = account_of(ev);
    if (!account) {
      host_->send(error_reply(ev.stanza, StanzaError::not_allowed("registration is for accounts of this server")));
      return Verdict::handled;
    }
    auto reply = server::make_result(ev.stanza);
    auto& query = reply.element.add_child("query", std::string(kNs));
    query.add_child("instructions", std::string(kNs))
        .add_text("You are registered. Send a new <password/> to change it, or <remove/> to delete your account.");
    query.add_child("registered", std::string(kNs));
    query.add_child("username", std::string(kNs)).add_text(std::string(account->local()));
    query.add_child("password", std::string(kNs));
    ev.origin->send(std::move(reply));
    return Verdict::handled;
  }

  asio::awaitable<Verdict> set(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    auto account = account_of(ev);
    if (!account) {
      host_->send(error_reply(ev.stanza, StanzaError::not_allowed("registration is for accounts of this server")));
      co_return Verdict::handled;
    }
    // Awaited into a variable, with a named argument: GCC 12 (modules/README.md).
    const Jid& who = *account;
    Verdict v = Verdict::handled;
    if (query_of(ev.stanza).find_child("remove", kNs) != nullptr) {
      v = co_await remove(ev, who);
    } else {
      v = co_await change_password(ev, who);
    }
    co_return v;
  }

  // §3.1: what a new account needs.
  Verdict form(Event& ev) {
    auto reply = server::make_result(ev.stanza);
    auto& query = reply.element.add_child("query", std::string(kNs));
    query.add_child("instructions", std::string(kNs)).add_text("Choose a user name and a password.");
    query.add_child("username", std::string(kNs));
    query.add_child("password", std::string(kNs));
    ev.unauthenticated->reply(std::move(reply));
    return Verdict::handled;
  }

  // §3.1: a new account from <username/> and <password/>. conflict when the name is taken
  // (registration necessarily tells whether a name exists: the per-address limit bounds
  // how fast anyone can ask), not-acceptable when something is missing or cannot be prepared.
  asio::awaitable<Verdict> create(Event& ev) {
    UnauthenticatedClient& client = *ev.unauthenticated;
    const Element& query = query_of(ev.stanza);
    const Element* username = query.find_child("username", kNs);
    const Element* password = query.find_child("password", kNs);
    if (query.find_child("remove", kNs) != nullptr) {
      client.reply(error_reply(ev.stanza, StanzaError::not_authorized("log in to remove an account")));
      co_return Verdict::handled;
    }
    std::optional<Jid> jid;
    if (username != nullptr) {
      auto local = server::normalize_localpart(username->text());
      if (local) jid = Jid::make(*local, host_->domain());
    }
    auto prepared = password != nullptr ? server::PreparedPassword::from(password->text()) : std::nullopt;
    if (!jid || !prepared) {
      client.reply(error_reply(ev.stanza, StanzaError::not_acceptable("a valid username and password are required")));
      co_return Verdict::handled;
    }
    if (!limiter_->allow(client.remote_address())) {
      server::log::warning("register: too many requests from {}", client.remote_address());
      client.reply(error_reply(ev.stanza, StanzaError{"policy-violation", "wait",
                                                      "too many registration requests from this address; try again later"}));
      co_return Verdict::handled;
    }
    auto add = [&accounts = host_->accounts(), account = *jid, pw = std::move(*prepared)]() {
      return accounts.create(account, pw);
    };
    auto r = co_await host_->storage().execute(std::move(add));
    if (!r.ok()) {
      bool taken = r.error().kind == storage::Error::Kind::conflict;
      if (!taken) server::log::warning("register: cannot create {}: {}", jid->str(), r.error().message);
      client.reply(error_reply(ev.stanza, taken ? StanzaError::conflict() : StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    server::log::info("register: {} created (from {})", jid->str(), client.remote_address());
    client.reply(server::make_result(ev.stanza));
    co_return Verdict::handled;
  }

  // Counts one attempt from the client's address (setting per_address_per_hour).
  bool within_limit(const Event& ev) {
    if (limiter_->allow(ev.origin->remote_address())) return true;
    server::log::warning("register: too many requests from {}", ev.origin->remote_address());
    ev.origin->send(error_reply(ev.stanza, StanzaError{"policy-violation", "wait",
                                                       "too many registration requests from this address; try again later"}));
    return false;
  }

  // §3.2: the account and everything it owns (ON DELETE CASCADE) go; the client gets its
  // result, then every session of the account ends with a <not-authorized/> stream error.
  asio::awaitable<Verdict> remove(Event& ev, const Jid& account) {
    for (const auto& child : query_of(ev.stanza).children()) {
      if (child.name() != "remove" || child.ns() != kNs) {
        // §3.2 error table: <remove/> must be the only child.
        ev.origin->send(error_reply(ev.stanza, StanzaError::bad_request("<remove/> must be the only child")));
        co_return Verdict::handled;
      }
    }
    if (!within_limit(ev)) co_return Verdict::handled;
    auto drop = [&accounts = host_->accounts(), account]() { return accounts.remove(account); };
    auto r = co_await host_->storage().execute(std::move(drop));
    if (!r.ok()) {
      if (r.error().kind == storage::Error::Kind::not_found) {
        ev.origin->send(error_reply(ev.stanza, StanzaError{"registration-required", "auth", {}}));
      } else {
        server::log::warning("register: cannot remove {}: {}", account.str(), r.error().message);
        ev.origin->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
      }
      co_return Verdict::handled;
    }
    server::log::info("register: {} removed their account (from {})", account.str(), ev.origin->remote_address());
    // The result is queued before the close on the same session, so it is written first.
    ev.origin->send(server::make_result(ev.stanza));
    host_->sessions().end_deleted_account(account);
    co_return Verdict::handled;
  }

  // §3.3: <username/> (if given, the account's own) and a new <password/>.
  asio::awaitable<Verdict> change_password(Event& ev, const Jid& account) {
    const Element& query = query_of(ev.stanza);
    const Element* username = query.find_child("username", kNs);
    const Element* password = query.find_child("password", kNs);
    if (username != nullptr) {
      auto name = server::normalize_localpart(username->text());
      if (!name || *name != account.local()) {
        ev.origin->send(error_reply(ev.stanza, StanzaError::bad_request("the username is not the account's")));
        co_return Verdict::handled;
      }
    }
    if (password == nullptr || password->text().empty()) {
      // §3.3: an empty password never replaces the current one.
      ev.origin->send(error_reply(ev.stanza, StanzaError::bad_request("a new password is required")));
      co_return Verdict::handled;
    }
    auto prepared = server::PreparedPassword::from(password->text());
    if (!prepared) {
      ev.origin->send(error_reply(ev.stanza, StanzaError::not_acceptable(
                                                 "the password has characters that are not allowed or is too long")));
      co_return Verdict::handled;
    }
    if (!within_limit(ev)) co_return Verdict::handled;
    auto change = [&accounts = host_->accounts(), account, pw = std::move(*prepared)]() {
      return accounts.set_password(account, pw);
    };
    auto r = co_await host_->storage().execute(std::move(change));
    if (!r.ok()) {
      server::log::warning("register: cannot change the password of {}: {}", account.str(), r.error().message);
      ev.origin->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    server::log::info("register: {} changed their password (from {})", account.str(), ev.origin->remote_address());
    ev.origin->send(server::make_result(ev.stanza));
    co_return Verdict::handled;
  }

  server::HostContext* host_ = nullptr;
  std::unique_ptr<RateLimiter> limiter_;
};

}  // namespace

server::ModuleInfo info() {
  return {"register", "XEP-0077: in-band registration, password change and account removal (off unless listed)",
          [] { return std::make_unique<Register>(); }};
}

}  // namespace parley::modules::registration
