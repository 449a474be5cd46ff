#pragma once
// The router: takes every stanza, runs the pre-* filters of the sender's host, finds the
// destination (a local host, an account, a session, or another domain), runs that host's
// handlers by priority and applies the default when none handled it (module_api.hpp,
// Verdict). The core owns only RFC 6120: stamping 'from' on what clients send, delivery to
// a full JID, service-unavailable for requests nobody took, remote-server-not-found while
// no federation handles route/remote.
//
// Thread-safe while serving: hosts and handlers are set up before the first stanza and
// only read afterwards.

#include <boost/asio/any_io_executor.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "server/module_api.hpp"
#include "server/router/event_table.hpp"
#include "server/router/session_table.hpp"

namespace parley::server::router {

class Router;

/// One served domain: its handlers, disco features and started modules.
class Host final : public HostContext {
 public:
  Host(Router& router, std::string domain) : router_(router), domain_(std::move(domain)) {}
  ~Host() override;

  /// Starts a module with its settings; everything it hooks is owned by it. Throws
  /// ConfigError for a setting it rejects or never read.
  void start_module(std::unique_ptr<Module> module, const ModuleSettings& settings);
  /// Stops every module in reverse order of starting and unhooks their handlers.
  void stop_modules();
  const EventTable& events() const { return events_; }

  std::string_view domain() const override { return domain_; }
  void hook(std::string_view event, Handler handler, int priority) override;
  void hook_async(std::string_view event, AsyncHandler handler, int priority) override;
  void add_stream_feature(std::string xml, bool before_authentication) override;
  const std::vector<std::string>& stream_features(bool before_authentication) const override {
    return before_authentication ? preauth_features_ : stream_features_;
  }
  void handle_stream_element(std::string ns, StreamElementHandler handler) override;
  /// The handler for top-level elements in `ns`, or null.
  const StreamElementHandler* find_stream_handler(std::string_view ns) const;
  boost::asio::awaitable<Verdict> fire(std::string_view event, Stanza& stanza) override;
  std::shared_ptr<void> busy() override;
  void add_disco_feature(std::string var, bool on_accounts) override;
  std::vector<std::string> disco_features(bool on_accounts) const override;
  void send(Stanza stanza) override;
  boost::asio::awaitable<void> route(Stanza stanza) override;
  Sessions& sessions() override;
  storage::Runner& storage() override;
  AccountStore& accounts() override;
  boost::asio::any_io_executor executor() override;
  const ModuleSettings& settings() const override;

 private:
  void add(std::string_view event, HandlerEntry entry);

  Router& router_;
  std::string domain_;
  EventTable events_;
  std::vector<std::pair<std::string, bool>> features_;
  std::vector<std::string> stream_features_;
  std::vector<std::string> preauth_features_;
  std::vector<std::unique_ptr<Module>> modules_;
  struct StreamHandler {
    std::string ns;
    StreamElementHandler handler;
    const void* owner;
  };
  std::vector<StreamHandler> stream_handlers_;
  const void* starting_ = nullptr;  // the module being started: owner of what it hooks
  const ModuleSettings* starting_settings_ = nullptr;
};

class Router {
 public:
  Router(SessionTable& sessions, storage::Runner& storage, AccountStore& accounts,
         boost::asio::any_io_executor executor)
      : sessions_(sessions), storage_(storage), accounts_(accounts), executor_(std::move(executor)) {}

  Host& add_host(const std::string& domain);
  Host* find_host(std::string_view domain);
  void stop_modules();

  /// Handlers for route/remote (federation). Set up before serving.
  void hook_remote(AsyncHandler handler, int priority = 0);

  /// Routes a stanza a local client sent: stamps 'from' with the session's full JID, runs
  /// the pre-* filters of the sender's host, then routes. Never throws. `done` (may be null)
  /// is released once the stanza is handled and durable (Event::durable).
  boost::asio::awaitable<void> route_from_client(Stanza stanza, std::shared_ptr<ClientSession> origin,
                                                 std::shared_ptr<void> done = nullptr);
  /// Routes a stanza from the server itself or from a remote domain (no filters).
  boost::asio::awaitable<void> route(Stanza stanza, std::shared_ptr<ClientSession> origin = nullptr,
                                     std::shared_ptr<void> durable = nullptr);

  /// A hold on work that must finish before shutdown (HostContext::busy); also taken for each
  /// client stanza until it is durable. pending() counts the holds alive.
  std::shared_ptr<void> hold(std::shared_ptr<void> inner = nullptr);
  std::size_t pending() const { return pending_.load(); }
  /// Runs the iq-get|set/preauth/NS:NAME handlers of `domain` for an iq from a client that
  /// has not authenticated. False when no handler is hooked for that payload (the caller
  /// then refuses the iq as before authentication); if every handler passes, the client gets
  /// service-unavailable. Never throws.
  boost::asio::awaitable<bool> route_preauth(Stanza& stanza, UnauthenticatedClient& client,
                                             std::string_view domain);

  /// Fire and forget `route` on the router's executor.
  void post(Stanza stanza);

  /// Runs the stanza/out handlers of the session's host; false if a handler dropped it.
  bool filter_outgoing(Stanza& stanza, const std::shared_ptr<ClientSession>& target);
  /// Runs session/bound or session/closed handlers of the session's host (sync ones only).
  void session_event(Family family, const std::shared_ptr<ClientSession>& session);
  /// Runs user/created or user/deleted handlers of the account's host (sync ones only), on
  /// the calling thread. Never throws.
  void user_event(Family family, const Jid& account);

  /// Answers `original` with an error, unless it is itself an error (no loops).
  void bounce(const Stanza& original, const StanzaError& error);

  SessionTable& sessions() { return sessions_; }
  storage::Runner& storage() { return storage_; }
  AccountStore& accounts() { return accounts_; }
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  static void note_presence(const Stanza& presence, ClientSession& origin);
  boost::asio::awaitable<void> dispatch(Stanza& stanza, std::shared_ptr<ClientSession> origin,
                                        const std::shared_ptr<void>& durable);
  boost::asio::awaitable<Verdict> run(const HandlerList* list, Event& event);
  void apply_default(Stanza& stanza, Dest dest);

  SessionTable& sessions_;
  storage::Runner& storage_;
  AccountStore& accounts_;
  boost::asio::any_io_executor executor_;
  std::map<std::string, std::unique_ptr<Host>, std::less<>> hosts_;
  HandlerList remote_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace parley::server::router
