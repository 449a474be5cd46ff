#pragma once
// The module API: the one header through which modules (modules/*/) and third-party shared
// objects reach the core. The core reaches modules only through the registry filled by
// register_builtin_modules(), defined in modules/registry.cpp; no core file includes a module.
//
// Shaped after Prosody's events: a module hooks named events on the host it is enabled for;
// handlers run by priority, highest first, and each returns a Verdict.
//
// Event names (interned when hooked; the router builds no strings per stanza):
//   message/full, message/bare, message/host, presence/full, presence/bare, presence/host,
//   presence/self            a client's presence without 'to' (its broadcast presence)
//   iq-get/host/NS:NAME      iq get to the server with child {NS}NAME; also /bare, /full, /self
//   iq-set/self/NS:NAME      ("self": from a client to its own account, or without 'to')
//   iq-get/preauth/NS:NAME   an iq from a client that has not authenticated yet (over TLS),
//   iq-set/preauth/NS:NAME   e.g. XEP-0077 registration; answered with Event::unauthenticated
//   iq-result/host, iq-error/host, ...   answers addressed to the server or an account
//   pre-message/bare, ...    filters, fired for stanzas sent by local clients, before routing
//   route/remote             a stanza for another domain (federation takes it)
//   stanza/out               before a stanza is written to a client session
//   session/bound, session/closed, user/created, user/deleted
//   (no stanza: handlers see an empty presence; session/*: from and to the session's full
//   JID, with it as origin; user/*: from and to the account's bare JID, no origin, fired
//   for every account created or deleted while the server runs, in this process or by
//   `parley user` beside it, server/account_events.hpp. Synchronous handlers only.)
//   message/offline          a message to store for its bare 'to' account (offline storage
//                            takes it; fired by modules with HostContext::fire, e.g. stream
//                            management for a hibernating session's unacknowledged messages)
//
// Threads: handlers run on the thread of the connection that routed the stanza, possibly on
// several threads at once. Module state shared between stanzas must be thread-safe.
//
// Installed: this header, the ones it includes (config, stanza, jid, xml/element) and log.hpp
// are installed under include/parley/ and compile on their own (tests/plugin/
// installed_api_test.sh). The storage and the account store are only declared here: their
// definitions (storage/runner.hpp, server/accounts.hpp) belong to the core and are not
// installed, so they are available to built-in modules only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.hpp"
#include "server/stanza.hpp"

namespace parley::storage {
class Runner;
}

namespace parley::server {

class AccountStore;

/// What a handler tells the router (documented like Envoy's FilterStatus).
enum class Verdict {
  /// Not handled (the handler may have looked, or changed the stanza if it is a filter): the
  /// next handler runs. When every handler passes, the router applies the default: an iq get
  /// or set is answered with service-unavailable, a message to an account with
  /// service-unavailable, a stanza to a full JID is delivered to that session if it exists,
  /// and anything else (presence, errors, results) is dropped.
  pass,
  /// Done: no further handler runs. The handler replied, delivered or stored as needed;
  /// for an iq get/set it is responsible for the answer.
  handled,
  /// Discard silently: no further handler runs, nothing is delivered, no error is sent.
  dropped,
};

/// A local client session as modules see it. Thread-safe.
class ClientSession {
 public:
  virtual ~ClientSession() = default;
  /// The bound full JID.
  virtual const Jid& jid() const = 0;
  /// Queues a stanza for this client (it passes the stanza/out event on the way).
  virtual void send(Stanza stanza) = 0;
  /// Ends the session with a stream error condition (RFC 6120 §4.9.3), e.g. "conflict".
  virtual void close(std::string_view condition) = 0;
  /// The client's address, for logs and throttling.
  virtual std::string_view remote_address() const = 0;

  /// Presence state kept with the session so bare-JID delivery can choose resources
  /// (RFC 6121 §8.5.2): available after initial presence, with its priority.
  virtual bool available() const = 0;
  virtual int priority() const = 0;
  virtual void set_presence(bool available, int priority) = 0;

  /// When the client last sent anything (a stanza, a byte of one, a whitespace keepalive);
  /// the default, long ago, for sessions that do not track it.
  virtual std::chrono::steady_clock::time_point last_received() const { return {}; }
  /// Kept by stream management (XEP-0198) after its connection dropped, waiting to be
  /// resumed: still bound and available, with no connection to ping or write to.
  virtual bool detached() const { return false; }
  /// Ends the session (as close() ends a detached one) only if it is still detached and
  /// `still_due()` returns true; `still_due` runs under the lock that orders resumption
  /// (ClientStream::resume), so a timeout that fires while the session is being resumed
  /// cannot end the connection that resumed it. Thread-safe; may return before the session
  /// has ended. The default, for sessions that are never detached, does nothing.
  virtual void end_if_detached(std::function<bool()> still_due) { (void)still_due; }
};

/// The local client sessions of all hosts, by JID. Thread-safe.
class Sessions {
 public:
  virtual ~Sessions() = default;
  virtual std::shared_ptr<ClientSession> find(const Jid& full) const = 0;
  /// The sessions of one account (any resource), in binding order.
  virtual std::vector<std::shared_ptr<ClientSession>> of_account(const Jid& bare) const = 0;
  /// The account was deleted: each of its sessions ends with a <not-authorized/> stream error
  /// (XEP-0077 §3.2, as ejabberd's unregister does), after what was queued for it.
  void end_deleted_account(const Jid& bare) const {
    for (const auto& session : of_account(bare)) session->close("not-authorized");
  }
};

class HostContext;

/// A client connection that is encrypted but has not authenticated, as the handlers of
/// iq-get/preauth/... and iq-set/preauth/... see it. Valid only while the handler runs, and
/// only on the connection's thread (where the handler runs).
class UnauthenticatedClient {
 public:
  virtual ~UnauthenticatedClient() = default;
  virtual std::string_view remote_address() const = 0;
  /// Answers on this stream; no addresses are added (RFC 6120 §8.1.2.1 before binding).
  virtual void reply(Stanza stanza) = 0;
};

/// One stanza on its way, as handlers see it.
struct Event {
  Stanza& stanza;
  /// The local client that sent it; null when the server or a remote domain sent it, and
  /// for preauth events.
  std::shared_ptr<ClientSession> origin;
  /// The host whose handlers run (the recipient's, or the sender's for pre-* filters).
  HostContext& host;
  /// Set for preauth events only: the connection to answer.
  UnauthenticatedClient* unauthenticated = nullptr;
  /// Durability of the stanza (set for stanzas from local clients): a handler that makes the
  /// stanza durable later than it returns (a write-behind archive commit) keeps a copy of this
  /// until the write is committed or given up. The sender's stream management acknowledges
  /// the stanza (XEP-0198 <a/>) only once every copy is released.
  std::shared_ptr<void> durable = nullptr;
};

class ClientStream;

/// Stream-level extensions of a client connection, installed by a module with
/// ClientStream::set_hooks (XEP-0198 stream management). stanza_sent runs on the thread of
/// the connection that bound the session (also after it was resumed on another connection);
/// the others on the thread of the connection concerned. Implementations must be
/// thread-safe.
class StreamHooks {
 public:
  virtual ~StreamHooks() = default;
  /// A stanza from the client is about to be routed. The returned object (may be null) is
  /// released once the stanza has been handled: routed, delivered or stored, including the
  /// durable copies handlers kept (Event::durable). Its destructor may run on any thread.
  virtual std::shared_ptr<void> stanza_received() { return nullptr; }
  /// A stanza is queued for the client (after stanza/out), serialized as `xml`.
  virtual void stanza_sent(const Stanza& stanza, const std::string& xml) = 0;
  /// The connection ended. `resumable`: it dropped or timed out, rather than being closed by
  /// the client (</stream:stream>) or by the server with a stream error. Return true to keep
  /// the session bound and available but detached (hibernating): stanzas sent to it go only
  /// to stanza_sent, until ClientStream::resume takes it over or ClientSession::close ends it.
  virtual bool connection_lost(bool resumable) = 0;
  /// The session ended for good (not taken over): it has just been unbound, and
  /// session/closed has fired.
  virtual void session_ended() = 0;
  /// ClientStream::resume: `by` carries the session from now on. Called on that connection's
  /// thread, at the moment of the takeover: every stanza_sent before it went to the earlier
  /// connection (or none), every one after it goes to `by`.
  virtual void taken_over(ClientStream& by) { (void)by; }
};

/// A client connection as stream-level extensions see it: the handlers of
/// HostContext::handle_stream_element and StreamHooks. Used on the connection's thread,
/// except write() and close(), which are thread-safe.
class ClientStream {
 public:
  virtual ~ClientStream() = default;
  /// The authenticated account (bare JID).
  virtual const Jid& account() const = 0;
  /// The bound session, or null before resource binding.
  virtual std::shared_ptr<ClientSession> bound_session() = 0;
  /// Writes a top-level element that is not a stanza (not counted, not filtered), in order
  /// with what was queued before it on this thread.
  virtual void write(std::string xml) = 0;
  /// Ends the connection with a stream error (RFC 6120 §4.9.3).
  virtual void end(std::string_view condition, std::string text = {}) = 0;
  /// Installs this connection's hooks (one set; replaces an earlier one; a resumed
  /// connection already has the session's).
  virtual void set_hooks(std::shared_ptr<StreamHooks> hooks) = 0;
  virtual std::shared_ptr<StreamHooks> hooks() const = 0;
  /// Takes over `previous`, a session of the same account that is detached or carried by
  /// another connection (which is then closed): this not yet bound connection carries it
  /// from now on. The session stays the same object, with its full JID, presence, hooks and
  /// the state modules keep for it; no session/bound or session/closed event fires, and
  /// bound_session() is `previous`. False if it has ended or is another account's.
  virtual bool resume(const std::shared_ptr<ClientSession>& previous) = 0;
  virtual std::shared_ptr<ClientStream> shared() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
};

/// A top-level element in a given namespace that is not a stanza (e.g. XEP-0198 <enable/>,
/// <r/>, <a/>, <resume/>) from an authenticated client, before or after resource binding.
/// The connection reads nothing else until the coroutine finishes.
using StreamElementHandler = std::function<boost::asio::awaitable<void>(const xml::Element&, ClientStream&)>;

using Handler = std::function<Verdict(Event&)>;
using AsyncHandler = std::function<boost::asio::awaitable<Verdict>(Event&)>;

/// What a module receives when it starts on a host. Valid until the module stops; the core
/// removes everything the module registered when it stops (modules keep no bookkeeping).
class HostContext {
 public:
  virtual ~HostContext() = default;
  virtual std::string_view domain() const = 0;

  /// Hooks an event (names above). Priority: highest runs first; 0 is the default for a
  /// feature's own handler, filters that must see a stanza before it use positive values.
  virtual void hook(std::string_view event, Handler handler, int priority = 0) = 0;
  /// The same for a coroutine handler (e.g. one that waits for the database).
  virtual void hook_async(std::string_view event, AsyncHandler handler, int priority = 0) = 0;

  /// An element offered in <stream:features/>: to clients that have authenticated (next to
  /// <bind/>), e.g. "<ver xmlns='urn:xmpp:features:rosterver'/>", or with
  /// `before_authentication` next to the SASL mechanisms, e.g. XEP-0077's <register/>.
  virtual void add_stream_feature(std::string xml, bool before_authentication = false) = 0;
  virtual const std::vector<std::string>& stream_features(bool before_authentication = false) const = 0;

  /// Handles top-level elements in namespace `ns` on authenticated client streams of this host.
  virtual void handle_stream_element(std::string ns, StreamElementHandler handler) = 0;

  /// Runs the handlers of an event that carries a stanza and no destination, for modules to
  /// call each other ("message/offline"). Returns the verdict (pass: nobody took it).
  virtual boost::asio::awaitable<Verdict> fire(std::string_view event, Stanza& stanza) = 0;
  /// Held while a module finishes work that must complete before the server stops (e.g.
  /// storing a hibernating session's messages): at shutdown the server waits, within its
  /// grace period, until every copy is released. Thread-safe.
  virtual std::shared_ptr<void> busy() = 0;

  /// A feature var for disco#info (XEP-0030): of the server, or of every account's bare JID.
  virtual void add_disco_feature(std::string var, bool on_accounts = false) = 0;
  virtual std::vector<std::string> disco_features(bool on_accounts) const = 0;

  /// Routes a stanza as if the server had sent it (no pre-* filters). Thread-safe.
  virtual void send(Stanza stanza) = 0;
  virtual boost::asio::awaitable<void> route(Stanza stanza) = 0;

  virtual Sessions& sessions() = 0;
  /// The database, for `co_await storage().run(...)` from coroutine handlers. Register
  /// prepared statements with storage().database().prepare(name, sql) in start();
  /// storage/runner.hpp.
  virtual storage::Runner& storage() = 0;
  /// The accounts (blocking calls: use them through storage().execute(...)); server/accounts.hpp.
  virtual AccountStore& accounts() = 0;
  /// An executor for the module's timers.
  virtual boost::asio::any_io_executor executor() = 0;

  /// The module's own settings table in this host ([host.NAME]), empty if none. Read them
  /// in start(): keys the module never reads are reported as unknown once it has started.
  virtual const ModuleSettings& settings() const = 0;
};

/// A feature enabled per host with `modules = [...]`. One object per host.
class Module {
 public:
  virtual ~Module() = default;
  virtual void start(HostContext& host) = 0;
  virtual void stop() {}
};

struct FederationContext;
class FederationService;
/// Builds server-to-server federation (server/federation_api.hpp).
using FederationFactory = std::unique_ptr<FederationService> (*)(FederationContext& context);

struct ModuleInfo {
  std::string_view name;         ///< the name used in a host's `modules = [...]`
  std::string_view description;  ///< one line, for `parley check` and the docs
  std::function<std::unique_ptr<Module>()> create;
};

/// The modules this binary knows. Filled once at start-up, read-only afterwards.
class ModuleRegistry {
 public:
  void add(ModuleInfo info) { modules_.push_back(std::move(info)); }
  const ModuleInfo* find(std::string_view name) const {
    for (const auto& m : modules_) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& m : modules_) out.push_back(m.name);
    return out;
  }

  /// Federation is not a per-host module; the built-in registry sets it, and the server
  /// starts it when [federation] enabled is true. Null: no federation in this binary.
  void set_federation(FederationFactory factory) { federation_ = factory; }
  FederationFactory federation() const { return federation_; }

 private:
  std::vector<ModuleInfo> modules_;
  FederationFactory federation_ = nullptr;
};

/// Lists every built-in module, in one place (modules/registry.cpp).
void register_builtin_modules(ModuleRegistry& registry);

/// What a third-party shared object exports (see server/plugins.hpp):
///   extern "C" void parley_register_modules(parley::server::ModuleRegistry& registry);
/// It must be built with the same compiler and parley headers as the server.
using RegisterModulesFunction = void (*)(ModuleRegistry& registry);
inline constexpr const char* kRegisterModulesSymbol = "parley_register_modules";

}  // namespace parley::server
