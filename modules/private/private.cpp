// XEP-0049 Private XML Storage: an account keeps XML fragments on its server, one per
// (namespace, element name), readable and writable only by the account's own resources.
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>

#include "modules/private/private.hpp"
#include "modules/private/private_store.hpp"
#include "modules/private/xml_text.hpp"
#include "server/log.hpp"
#include "storage/runner.hpp"

namespace asio = boost::asio;

namespace parley::modules::private_storage {
namespace {

using server::Event;
using server::Jid;
using server::Stanza;
using server::StanzaError;
using server::Verdict;
using server::xml::Element;

constexpr std::string_view kNs = "jabber:iq:private";

// XEP-0049 §2.3: the fragment's root must be "scoped by its own namespace": not the query's,
// and not a stanza namespace (an unqualified child of the query inherits jabber:iq:private).
// The other reserved namespaces the XEP lists (jabber:*, http://jabber.org/*, vcard-temp)
// are refused only optionally there; some clients store under them, so they are accepted.
bool reserved(std::string_view ns) {
  return ns == kNs || ns == "jabber:client" || ns == "jabber:server";
}

// An error reply without the request's payload: the fragments may be large, and the client
// has them already.
Stanza error_reply(const Stanza& request, const StanzaError& error) {
  auto reply = server::make_error(request, error);
  reply.element.remove_children("query", kNs);
  return reply;
}

const Element* query_of(const Stanza& st) {
  for (const auto& child : st.element.children()) return &child;
  return nullptr;
}

class Private final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    max_bytes_ = static_cast<std::size_t>(host.settings().integer("max_bytes", 64 * 1024, 256, 16 * 1024 * 1024));
    max_total_bytes_ = static_cast<std::size_t>(
        host.settings().integer("max_total_bytes", 1024 * 1024, 1024, std::int64_t{1} << 32));
    store::prepare(host.storage().database());
    host.add_disco_feature(std::string(kNs), true);
    host.hook_async("iq-get/self/jabber:iq:private:query", [this](Event& ev) { return get(ev); });
    host.hook_async("iq-set/self/jabber:iq:private:query", [this](Event& ev) { return set(ev); });
    // XEP-0049 §2.3: another user's private data: forbidden (preferred to service-unavailable).
    auto forbidden = [&host](Event& ev) {
      host.send(error_reply(ev.stanza, StanzaError::forbidden("private XML storage belongs to its account alone")));
      return Verdict::handled;
    };
    host.hook("iq-get/bare/jabber:iq:private:query", forbidden);
    host.hook("iq-set/bare/jabber:iq:private:query", forbidden);
  }

 private:
  // The fragments a query names, or the error to answer with (XEP-0049 §2.3).
  static std::optional<StanzaError> check(const Element& query, bool get, std::vector<const Element*>& out) {
    for (const auto& child : query.children()) out.push_back(&child);
    if (out.empty()) return StanzaError::not_acceptable("the query needs one child element in its own namespace");
    for (const auto* child : out) {
      if (reserved(child->ns())) return StanzaError::not_acceptable("the namespace " + child->ns() + " is reserved");
      // "A client MUST NOT query for more than one namespace in a single IQ get request."
      if (get && child->ns() != out.front()->ns()) return StanzaError::bad_request("one namespace per get");
    }
    return std::nullopt;
  }

  asio::awaitable<Verdict> get(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    std::vector<const Element*> asked;
    if (auto error = check(*query_of(ev.stanza), true, asked)) {
      ev.origin->send(error_reply(ev.stanza, *error));
      co_return Verdict::handled;
    }
    std::vector<store::Key> keys;
    for (const auto* e : asked) keys.push_back({e->ns(), e->name()});
    auto query = [account, keys](pqxx::connection& c) { return store::get(c, account, keys); };
    auto found = co_await host_->storage().run(std::move(query));
    if (!found.ok()) {
      server::log::warning("private: cannot read for {}: {}", account.str(), found.error().message);
      ev.origin->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
      co_return Verdict::handled;
    }
    auto reply = server::make_result(ev.stanza);
    auto& out = reply.element.add_child("query", std::string(kNs));
    for (std::size_t i = 0; i < asked.size(); ++i) {
      if (!(*found)[i]) {
        out.add_child(*asked[i]);  // nothing stored: the element as asked for, empty
        continue;
      }
      auto stored = read_xml(*(*found)[i]);
      if (!stored) {
        server::log::error("private: unreadable fragment {{{}}}{} of {}", asked[i]->ns(), asked[i]->name(), account.str());
        ev.origin->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
        co_return Verdict::handled;
      }
      out.add_child(std::move(*stored));
    }
    ev.origin->send(std::move(reply));
    co_return Verdict::handled;
  }

  asio::awaitable<Verdict> set(Event& ev) {
    if (!ev.origin) co_return Verdict::pass;
    Jid account = ev.origin->jid().bare();
    std::vector<const Element*> given;
    if (auto error = check(*query_of(ev.stanza), false, given)) {
      ev.origin->send(error_reply(ev.stanza, *error));
      co_return Verdict::handled;
    }
    std::vector<store::Fragment> fragments;
    for (const auto* e : given) {
      store::Fragment f{{e->ns(), e->name()}, write_xml(*e)};
      if (f.xml.size() > max_bytes_) {
        ev.origin->send(error_reply(ev.stanza, StanzaError::policy_violation(
                                                   "a private XML fragment is limited to " + std::to_string(max_bytes_) + " bytes")));
        co_return Verdict::handled;
      }
      // Several elements of the same name in one set: the last one is kept.
      std::erase_if(fragments, [&](const store::Fragment& old) { return old.key.ns == f.key.ns && old.key.name == f.key.name; });
      fragments.push_back(std::move(f));
    }
    auto write = [account, fragments, max = max_total_bytes_](pqxx::connection& c) {
      return store::set(c, account, fragments, max);
    };
    auto r = co_await host_->storage().run(std::move(write));
    if (!r.ok()) {
      server::log::warning("private: cannot store for {}: {}", account.str(), r.error().message);
      ev.origin->send(error_reply(ev.stanza, StanzaError::internal_server_error()));
    } else if (*r == store::SetOutcome::over_quota) {
      ev.origin->send(error_reply(ev.stanza, StanzaError::policy_violation(
                                                 "private XML storage is limited to " + std::to_string(max_total_bytes_) + " bytes per account")));
    } else {
      ev.origin->send(server::make_result(ev.stanza));
    }
    co_return Verdict::handled;
  }

  server::HostContext* host_ = nullptr;
  std::size_t max_bytes_ = 64 * 1024;
  std::size_t max_total_bytes_ = 1024 * 1024;
};

}  // namespace

server::ModuleInfo info() {
  return {"private", "XEP-0049: private XML storage for each account",
          [] { return std::make_unique<Private>(); }};
}

}  // namespace parley::modules::private_storage
