// XEP-0280 Message Carbons: a client that enables carbons gets a copy of the chat messages
// its account's other resources send (<sent/>) and of those addressed to the account that
// went to another resource (<received/>), so every device sees the whole conversation.
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "modules/carbons/carbons.hpp"
#include "modules/carbons/carbons_rules.hpp"

namespace parley::modules::carbons {
namespace {

using server::ClientSession;
using server::Verdict;

/// The sessions that enabled carbons (XEP-0280 §4), by session object: a session that
/// replaces another with the same full JID starts disabled. Entries leave on disable and on
/// session/closed. Thread-safe.
class Enabled {
 public:
  void set(const ClientSession* s, bool on) {
    std::lock_guard lock(mutex_);
    if (on) {
      set_.insert(s);
    } else {
      set_.erase(s);
    }
  }
  bool contains(const ClientSession* s) const {
    std::lock_guard lock(mutex_);
    return set_.count(s) > 0;
  }
  /// The sessions of `all` that enabled carbons, minus those in `skip`.
  std::vector<std::shared_ptr<ClientSession>> among(const std::vector<std::shared_ptr<ClientSession>>& all,
                                                    const std::vector<const ClientSession*>& skip) const {
    std::vector<std::shared_ptr<ClientSession>> out;
    std::lock_guard lock(mutex_);
    if (set_.empty()) return out;
    for (const auto& s : all) {
      if (set_.count(s.get()) == 0) continue;
      if (std::find(skip.begin(), skip.end(), s.get()) != skip.end()) continue;
      out.push_back(s);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<const ClientSession*> set_;
};

class Carbons final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    host_ = &host;
    host.add_disco_feature(std::string(kCarbonsNs));  // XEP-0280 §3

    // XEP-0280 §4: enable and disable, sent by the client to its own account (no 'to').
    for (const char* scope : {"self", "host"}) {
      host.hook(std::string("iq-set/") + scope + "/urn:xmpp:carbons:2:enable",
                [this](server::Event& ev) { return toggle(ev, true); });
      host.hook(std::string("iq-set/") + scope + "/urn:xmpp:carbons:2:disable",
                [this](server::Event& ev) { return toggle(ev, false); });
    }
    host.hook("session/closed", [this](server::Event& ev) {
      enabled_.set(ev.origin.get(), false);
      return Verdict::pass;
    });

    // Sent copies (XEP-0280 §8). Priority -10: the last of the pre-message filters, so a
    // message that a filter (blocking, privacy, rate limits) drops is never copied.
    auto sent = [this](server::Event& ev) { return on_sent(ev); };
    host.hook("pre-message/bare", sent, -10);
    host.hook("pre-message/full", sent, -10);

    // Received copies (XEP-0280 §7). Priority 10: before the message module (0) delivers and
    // so consumes the stanza; this handler copies (and strips <private/>) and passes.
    auto received = [this](server::Event& ev) { return on_received(ev); };
    host.hook("message/bare", received, 10);
    host.hook("message/full", received, 10);
  }

 private:
  Verdict toggle(server::Event& ev, bool on) {
    // §4.1, §5.1: not-allowed for a request that is not from a client of this server.
    if (!ev.origin || ev.origin->jid().domain() != host_->domain()) {
      host_->send(server::make_error(ev.stanza, server::StanzaError::not_allowed()));
      return Verdict::handled;
    }
    enabled_.set(ev.origin.get(), on);  // §10.1: repeating either is not an error
    host_->send(server::make_result(ev.stanza));
    return Verdict::handled;
  }

  Verdict on_sent(server::Event& ev) {
    const server::Stanza& st = ev.stanza;
    if (!ev.origin || !eligible(st)) return Verdict::pass;
    server::Jid account = ev.origin->jid().bare();
    // To the account itself: its own resources get it (and received copies) on delivery.
    if (st.to && st.to->bare() == account) return Verdict::pass;
    // §8: to every carbons-enabled resource of the sender except the sending one, whether
    // or not that one enabled carbons.
    auto targets = enabled_.among(host_->sessions().of_account(account), {ev.origin.get()});
    for (const auto& t : targets) t->send(wrap(Direction::sent, st, account, t->jid()));
    return Verdict::pass;
  }

  Verdict on_received(server::Event& ev) {
    server::Stanza& st = ev.stanza;
    if (!st.to || !st.to->has_local() || st.kind != server::StanzaKind::message) return Verdict::pass;
    if (is_private(st.element)) {
      // §9: no copies, and the receiving server SHOULD remove <private/> before delivery.
      st.element.remove_children("private", kCarbonsNs);
      return Verdict::pass;
    }
    if (!eligible_received(st)) return Verdict::pass;
    server::Jid account = st.to->bare();
    auto sessions = host_->sessions().of_account(account);
    if (sessions.empty()) return Verdict::pass;

    // §7: copies go to the enabled resources that RFC 6121 §8.5 does not deliver to: for a
    // full JID that resource if it is bound (else the bare-JID rule applies, §8.5.3.2.1),
    // for the bare JID the available ones with the highest non-negative priority.
    std::vector<const ClientSession*> skip;
    std::shared_ptr<ClientSession> direct;
    if (!st.to->is_bare()) direct = host_->sessions().find(*st.to);
    if (direct) {
      skip.push_back(direct.get());
    } else {
      for (const auto& s : bare_recipients(sessions)) skip.push_back(s.get());
    }
    // A message between two resources of one account is not copied back to its sender.
    if (ev.origin && ev.origin->jid().bare() == account) skip.push_back(ev.origin.get());

    for (const auto& t : enabled_.among(sessions, skip)) t->send(wrap(Direction::received, st, account, t->jid()));
    return Verdict::pass;
  }

  server::HostContext* host_ = nullptr;
  Enabled enabled_;
};

}  // namespace

server::ModuleInfo info() {
  return {"carbons", "XEP-0280: copies chat messages to all of an account's carbons-enabled resources",
          [] { return std::make_unique<Carbons>(); }};
}

}  // namespace parley::modules::carbons
