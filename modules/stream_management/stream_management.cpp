// XEP-0198 stream management (urn:xmpp:sm:3): acknowledgements both ways, resumption of a
// session whose connection dropped, and what happens to unacknowledged messages when a
// session ends for good (offline storage, through the message/offline event).
//
// The core gives a module what it needs (module_api.hpp): top-level elements of our
// namespace (handle_stream_element), StreamHooks on a connection (every stanza received and
// sent, the end of the connection), detached sessions and ClientStream::resume.
//
// An acknowledgement (<a h/>) counts a stanza of the client only once it is handled and
// durable: routed, delivered to a session or stored, and committed where a handler writes
// later (server::Event::durable: the archive's write-behind batch). README.md, "Durability".
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "modules/stream_management/sm_counters.hpp"
#include "modules/stream_management/stream_management.hpp"
#include "server/crypto.hpp"
#include "server/log.hpp"

namespace asio = boost::asio;

namespace parley::modules::stream_management {
namespace {

namespace log = server::log;
using server::ClientSession;
using server::ClientStream;
using server::Jid;
using server::Stanza;
using server::xml::Element;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kStanzasNs = "urn:ietf:params:xml:ns:xmpp-stanzas";
// Sessions that ended, remembered so that a late <resume/> learns their last 'h'
// (XEP-0198 §5, <failed h/>).
constexpr std::size_t kRememberEnded = 10000;

struct Settings {
  std::chrono::seconds resume_timeout{300};
  std::size_t max_unacked = 500;
  std::size_t request_ack_after = 0;
  std::chrono::milliseconds ack_wait{5000};
};

class SmState;

/// What every stream-management session of a host shares: settings, the resumable
/// sessions by id, and the ones that ended recently. Thread-safe.
struct Shared {
  server::HostContext* host = nullptr;
  Settings settings;

  std::shared_ptr<SmState> find(const std::string& id) {
    std::lock_guard lock(mutex);
    auto it = live.find(id);
    return it == live.end() ? nullptr : it->second;
  }
  void add(const std::string& id, std::shared_ptr<SmState> state) {
    std::lock_guard lock(mutex);
    live[id] = std::move(state);
  }
  void ended(const std::string& id, const Jid& account, std::uint32_t h) {
    std::lock_guard lock(mutex);
    live.erase(id);
    if (ended_order.size() >= kRememberEnded) {
      gone.erase(ended_order.front());
      ended_order.pop_front();
    }
    gone.insert_or_assign(id, std::pair<Jid, std::uint32_t>{account, h});
    ended_order.push_back(id);
  }
  std::optional<std::uint32_t> ended_h(const std::string& id, const Jid& account) {
    std::lock_guard lock(mutex);
    auto it = gone.find(id);
    if (it == gone.end() || it->second.first != account) return std::nullopt;
    return it->second.second;
  }

  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<SmState>> live;
  std::unordered_map<std::string, std::pair<Jid, std::uint32_t>> gone;
  std::deque<std::string> ended_order;
};

asio::awaitable<void> store_offline(std::shared_ptr<Shared> shared, [[maybe_unused]] std::shared_ptr<void> busy,
                                    std::deque<Sent> items, std::string who);

/// One stream-management session: installed as the connection's StreamHooks, it outlives
/// the connection while the session hibernates and moves to the connection that resumes it.
/// Thread-safe (one mutex; the core calls the hooks from the session's thread).
class SmState final : public server::StreamHooks, public std::enable_shared_from_this<SmState> {
 public:
  SmState(std::shared_ptr<Shared> shared, std::string id, Jid account, std::shared_ptr<ClientSession> session,
          std::shared_ptr<ClientStream> stream)
      : shared_(std::move(shared)), id_(std::move(id)), account_(std::move(account)), session_(session),
        jid_(session->jid().full()), stream_(stream) {}

  const std::string& id() const { return id_; }
  const Jid& account() const { return account_; }
  bool resumable() const { return !id_.empty(); }

  // ---- StreamHooks ----

  std::shared_ptr<void> stanza_received() override {
    std::uint64_t seq = 0;
    {
      std::lock_guard lock(mutex_);
      seq = inbound_.receive();
    }
    // Released by the core once the stanza is handled and durable.
    struct Done {
      std::weak_ptr<SmState> state;
      std::uint64_t seq = 0;
      ~Done() {
        if (auto s = state.lock()) s->complete(seq);
      }
    };
    auto done = std::make_shared<Done>();  // built in place: a copy would complete early
    done->state = weak_from_this();
    done->seq = seq;
    return done;
  }

  void stanza_sent(const Stanza& stanza, const std::string& xml) override {
    std::shared_ptr<ClientStream> request_from;
    std::shared_ptr<ClientSession> overflowed;
    bool hibernating = false;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return;
      unacked_.push(Sent{stanza, xml});
      hibernating = hibernating_;
      if (unacked_.size() > shared_->settings.max_unacked) {
        if (!overflow_) {
          overflow_ = true;
          overflowed = session_.lock();
        }
      } else if (!hibernating_ && !request_outstanding_ && unacked_.size() > shared_->settings.request_ack_after) {
        request_from = stream_.lock();
        request_outstanding_ = request_from != nullptr;
      }
    }
    if (request_from) request_from->write("<r xmlns='urn:xmpp:sm:3'/>");
    if (overflowed) {
      // Like Prosody's smacks_max_queue_size: the client stopped acknowledging; the session
      // ends and what it did not acknowledge goes to offline storage.
      log::warning("stream_management: {} has over {} unacknowledged stanzas; ending the session", jid_,
                   shared_->settings.max_unacked);
      if (hibernating) {
        overflowed->close("connection-timeout");
      } else {
        overflowed->close("policy-violation");
      }
    }
  }

  bool connection_lost(bool resumable) override {
    std::lock_guard lock(mutex_);
    stream_.reset();
    request_outstanding_ = false;
    if (!resumable || id_.empty() || ended_ || overflow_) return false;
    hibernating_ = true;
    std::uint64_t generation = ++generation_;
    // One timer per session, cancelled when it is resumed or ends (replacing it cancels an
    // earlier one): timers do not pile up for resume_timeout each.
    timer_ = std::make_unique<asio::steady_timer>(shared_->host->executor(), shared_->settings.resume_timeout);
    timer_->async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->expire(generation);
    });
    log::info("stream_management: {} hibernating for up to {} s ({} unacknowledged)", jid_,
              shared_->settings.resume_timeout.count(), unacked_.size());
    return true;
  }

  void session_ended() override {
    std::deque<Sent> items;
    std::uint32_t h = 0;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return;
      ended_ = true;
      hibernating_ = false;
      timer_.reset();
      items = unacked_.take();
      h = inbound_.handled();
    }
    if (!id_.empty()) shared_->ended(id_, account_, h);
    bool any = std::any_of(items.begin(), items.end(), [](const Sent& s) { return goes_offline(s.stanza); });
    if (!any) return;
    // The server waits for this at shutdown (HostContext::busy).
    asio::co_spawn(shared_->host->executor(), store_offline(shared_, shared_->host->busy(), std::move(items), jid_),
                   asio::detached);
  }

  // ---- protocol steps ----

  std::uint32_t received() {
    std::lock_guard lock(mutex_);
    return inbound_.received();
  }
  bool caught_up(std::uint32_t target) {
    std::lock_guard lock(mutex_);
    return inbound_.caught_up(target);
  }
  std::uint32_t handled() {
    std::lock_guard lock(mutex_);
    return inbound_.handled();
  }
  std::shared_ptr<ClientSession> session() { return session_.lock(); }

  /// The client's <a h/>: false when it acknowledges more than was sent.
  bool acknowledged(std::uint32_t h) {
    std::lock_guard lock(mutex_);
    request_outstanding_ = false;
    return unacked_.ack(h);
  }

  // At the takeover (ClientStream::resume, under the session's lock): what was sent so far
  // and not acknowledged must be sent again on the new connection; what comes after goes
  // there anyway.
  void taken_over(ClientStream& by) override {
    std::lock_guard lock(mutex_);
    ++generation_;  // the hibernation timer, if any, no longer counts
    hibernating_ = false;
    timer_.reset();
    stream_ = by.shared();
    resend_from_ = unacked_.acked();
    resend_.clear();
    for (const auto& s : unacked_.items()) resend_.push_back(s.xml);
    request_outstanding_ = false;
  }

  /// After the takeover: the client's `h` acknowledges; returns our 'h' and what to send
  /// again. nullopt when `h` is more than was sent.
  std::optional<std::pair<std::uint32_t, std::vector<std::string>>> resumed(std::uint32_t h) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> resend = std::move(resend_);
    resend_.clear();
    if (!unacked_.ack(h)) return std::nullopt;
    std::uint32_t skip = h - resend_from_;
    if (skip > resend.size()) skip = static_cast<std::uint32_t>(resend.size());
    resend.erase(resend.begin(), resend.begin() + skip);
    request_outstanding_ = !resend.empty();
    // Our 'h' counts what is handled and durable, as an <a/> does (the caller waited for the
    // old connection's stanzas, at most ack_wait_ms): the client sends the rest again, so
    // the count goes on from there and what was still under way no longer counts (it may
    // arrive twice; it is not lost). The old connection stopped counting at the takeover.
    inbound_.rewind();
    return std::pair{inbound_.handled(), std::move(resend)};
  }

 private:
  void complete(std::uint64_t seq) {
    std::lock_guard lock(mutex_);
    inbound_.complete(seq);
  }

  // The resumption window passed: the session ends (unbound, unavailable presence
  // broadcast, session_ended). Decided again under the session's takeover lock
  // (end_if_detached): a <resume/> in between takes the session first, and then this timer
  // (its generation) no longer counts; it must not close the connection that resumed.
  void expire(std::uint64_t generation) {
    std::shared_ptr<ClientSession> session;
    {
      std::lock_guard lock(mutex_);
      if (!due(generation)) return;
      session = session_.lock();
    }
    if (!session) return;
    session->end_if_detached([weak = weak_from_this(), generation] {
      auto self = weak.lock();
      if (!self) return false;
      {
        std::lock_guard lock(self->mutex_);
        if (!self->due(generation)) return false;
      }
      log::info("stream_management: {} was not resumed in time; the session ends", self->jid_);
      return true;
    });
  }
  // mutex_ held: the hibernation timer of `generation` still decides.
  bool due(std::uint64_t generation) const { return generation == generation_ && hibernating_ && !ended_; }

  std::shared_ptr<Shared> shared_;
  const std::string id_;  // empty: not resumable
  const Jid account_;
  std::weak_ptr<ClientSession> session_;
  const std::string jid_;  // for logs

  std::mutex mutex_;
  std::weak_ptr<ClientStream> stream_;  // the current connection, none while hibernating
  Inbound inbound_;
  Unacked unacked_;
  bool request_outstanding_ = false;  // our <r/> awaits the client's <a/>
  bool hibernating_ = false;
  bool ended_ = false;
  bool overflow_ = false;
  std::uint64_t generation_ = 0;  // of hibernation timers
  std::unique_ptr<asio::steady_timer> timer_;  // while hibernating; destroying it cancels it
  std::uint32_t resend_from_ = 0;       // at the last takeover: acknowledged count then ...
  std::vector<std::string> resend_;     // ... and what was unacknowledged
};

// The messages a session never acknowledged, into offline storage: the message/offline
// event (the offline module), not a new routing, so they are not archived or
// carbon-copied a second time.
asio::awaitable<void> store_offline(std::shared_ptr<Shared> shared, [[maybe_unused]] std::shared_ptr<void> busy,
                                    std::deque<Sent> items, std::string who) {
  std::size_t stored = 0, other = 0;
  for (auto& item : items) {
    if (!goes_offline(item.stanza)) {
      ++other;
      continue;
    }
    server::Verdict v = co_await shared->host->fire("message/offline", item.stanza);
    if (v == server::Verdict::handled) ++stored;
  }
  log::info("stream_management: {} unacknowledged message(s) of {} went to offline storage ({} other stanza(s) dropped)",
            stored, who, other);
}

std::string random_id() {
  // 18 bytes from the CSPRNG, URL-safe base64: unguessable, and bound to the account.
  std::string id = server::crypto::base64_encode(server::crypto::random_bytes(18));
  for (char& c : id) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return id;
}

std::string failed(std::string_view condition, std::optional<std::uint32_t> h = std::nullopt) {
  std::string out = "<failed xmlns='urn:xmpp:sm:3'";
  if (h) out += " h='" + std::to_string(*h) + "'";
  return out + "><" + std::string(condition) + " xmlns='" + std::string(kStanzasNs) + "'/></failed>";
}

std::shared_ptr<SmState> state_of(ClientStream& stream) {
  return std::dynamic_pointer_cast<SmState>(stream.hooks());
}

class StreamManagement final : public server::Module {
 public:
  void start(server::HostContext& host) override {
    shared_->host = &host;
    const auto& s = host.settings();
    auto& settings = shared_->settings;
    settings.resume_timeout = s.duration("resume_timeout", std::chrono::seconds(300), std::chrono::seconds(1),
                                         std::chrono::seconds(86400));
    settings.max_unacked = static_cast<std::size_t>(s.integer("max_unacked", 500, 1, 100000));
    settings.request_ack_after = static_cast<std::size_t>(s.integer("request_ack_after", 0, 0, 100000));
    settings.ack_wait = std::chrono::milliseconds(s.integer("ack_wait_ms", 5000, 0, 60000));
    host.add_stream_feature("<sm xmlns='urn:xmpp:sm:3'/>");
    host.handle_stream_element(std::string(kSmNs),
                               [this](const Element& e, ClientStream& stream) { return on_element(e, stream); });
  }

 private:
  asio::awaitable<void> on_element(const Element& e, ClientStream& stream) {
    const std::string& name = e.name();
    if (name == "enable") {
      enable(e, stream);
    } else if (name == "r") {
      co_await answer_request(stream);
    } else if (name == "a") {
      acknowledge(e, stream);
    } else if (name == "resume") {
      co_await resume(e, stream);
    } else {
      stream.end("unsupported-stanza-type", "unknown stream management element");
    }
  }

  // XEP-0198 §3: <enable/> after binding, once.
  void enable(const Element& e, ClientStream& stream) {
    auto session = stream.bound_session();
    if (!session || state_of(stream)) {
      stream.write(failed("unexpected-request"));
      return;
    }
    auto resume_attr = e.attr("resume").value_or("");
    bool resumable = resume_attr == "true" || resume_attr == "1";
    std::string id = resumable ? random_id() : std::string();
    auto state = std::make_shared<SmState>(shared_, id, stream.account().bare(), session, stream.shared());
    if (resumable) shared_->add(id, state);
    stream.set_hooks(state);
    std::string enabled = "<enabled xmlns='urn:xmpp:sm:3'";
    if (resumable) {
      enabled += " id='" + id + "' resume='true' max='" + std::to_string(shared_->settings.resume_timeout.count()) + "'";
    }
    stream.write(enabled + "/>");
    log::debug("stream_management: enabled for {}{}", session->jid().str(), resumable ? " (resumable)" : "");
  }

  // Waits (at most ack_wait_ms) until every stanza the client sent up to now is handled.
  asio::awaitable<void> catch_up(std::shared_ptr<SmState> state, asio::any_io_executor executor) {
    std::uint32_t target = state->received();
    auto until = Clock::now() + shared_->settings.ack_wait;
    asio::steady_timer timer(executor);
    while (!state->caught_up(target) && Clock::now() < until) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // XEP-0198 §4: <r/> is answered with the count of stanzas handled, once the ones received
  // before it are durable (bounded by ack_wait_ms; then the lower, true count).
  asio::awaitable<void> answer_request(ClientStream& stream) {
    auto state = state_of(stream);
    if (!state) co_return;  // not enabled: nothing to count
    co_await catch_up(state, stream.executor());
    stream.write("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(state->handled()) + "'/>");
  }

  void acknowledge(const Element& e, ClientStream& stream) {
    auto state = state_of(stream);
    if (!state) return;
    auto h = parse_h(e.attr("h").value_or(""));
    if (!h) {
      stream.end("bad-format", "the h attribute of <a/> is not a count");
      return;
    }
    if (!state->acknowledged(*h)) {
      // XEP-0198 §4: acknowledging more than was sent.
      stream.end("undefined-condition", "handled-count-too-high");
    }
  }

  // XEP-0198 §5: resumption on a new, authenticated stream of the same account.
  asio::awaitable<void> resume(const Element& e, ClientStream& stream) {
    if (stream.bound_session()) {
      stream.write(failed("unexpected-request"));
      co_return;
    }
    std::string previd(e.attr("previd").value_or(""));
    auto h = parse_h(e.attr("h").value_or(""));
    const Jid account = stream.account().bare();
    auto state = shared_->find(previd);
    if (!state || state->account() != account || !h) {
      // Unknown, expired, or another account's: the same answer (an id reveals nothing),
      // with our last count when the session was this account's and ended.
      auto last = shared_->ended_h(previd, account);
      log::info("stream_management: {} cannot resume a session (unknown or ended)", account.str());
      stream.write(failed("item-not-found", last));
      co_return;
    }
    // The old connection's last stanzas may still be on their way to durability: the 'h' we
    // answer should count them, or the client resends them.
    co_await catch_up(state, stream.executor());
    // From here to the last write, no co_await: nothing else can be written on this stream
    // in between (stanzas for the session now reach this thread and queue behind).
    auto session = state->session();
    bool taken = session && stream.resume(session);
    if (!taken) {
      stream.write(failed("item-not-found", shared_->ended_h(previd, account)));
      co_return;
    }
    stream.set_hooks(state);
    auto resent = state->resumed(*h);
    if (!resent) {
      stream.end("undefined-condition", "handled-count-too-high");
      co_return;
    }
    stream.write("<resumed xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='" + std::to_string(resent->first) + "'/>");
    for (auto& xml : resent->second) stream.write(std::move(xml));
    if (!resent->second.empty()) stream.write("<r xmlns='urn:xmpp:sm:3'/>");
    log::info("stream_management: {} resumed, {} stanza(s) sent again", session->jid().str(), resent->second.size());
  }

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace

server::ModuleInfo info() {
  return {"stream_management", "XEP-0198: acknowledgements, session resumption, unacknowledged messages to offline storage",
          [] { return std::make_unique<StreamManagement>(); }};
}

}  // namespace parley::modules::stream_management
