#pragma once
// The server's configuration: one TOML file (docs/configuration.md is the reference).
//
// Loading validates everything it can without touching the network or the database:
// unknown keys, wrong types and bad values are a ConfigError whose message names the file,
// the line and the key's full path, e.g.
//   parley.toml:12:1: unknown key 'server.thredas'
// Relative paths are resolved against the directory of the configuration file.
// A Config is a plain value: build it once at start-up, then share it read-only.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::server {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Where a value came from, for errors reported after loading ("parley.toml:14").
struct SourceLocation {
  std::string file;
  int line = 0;
  std::string str() const { return line > 0 ? file + ":" + std::to_string(line) : file; }
};

/// One value of a module's own settings table, with where it was written.
struct SettingValue {
  std::variant<bool, std::int64_t, std::string, std::vector<std::string>> value;
  SourceLocation location;
};

/// A module's own table inside a host, e.g. `[host.mam]` after a `[[host]]`: the values
/// as written. The module reads them with the typed getters when it starts; each getter
/// throws ConfigError naming the key and its line for a wrong type or range, and after the
/// module started, check_all_read() rejects keys it never asked for (a typo).
/// Read by one thread at start-up.
class ModuleSettings {
 public:
  ModuleSettings() = default;
  ModuleSettings(std::string path, std::map<std::string, SettingValue, std::less<>> values)
      : path_(std::move(path)), values_(std::move(values)) {}

  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;
  bool boolean(std::string_view key, bool fallback) const;
  std::string string(std::string_view key, std::string fallback) const;
  std::vector<std::string> strings(std::string_view key) const;
  /// A duration: an integer of seconds, or a string "45s", "15m", "12h", "30d", "52w".
  std::chrono::seconds duration(std::string_view key, std::chrono::seconds fallback,
                                std::chrono::seconds min, std::chrono::seconds max) const;
  /// Throws ConfigError for the first key (in file order) no getter has asked for.
  void check_all_read() const;
  bool empty() const { return values_.empty(); }

 private:
  const SettingValue* find(std::string_view key) const;
  [[noreturn]] void fail(const SettingValue& v, std::string_view key, std::string_view what) const;

  std::string path_;  ///< "host[0].mam"
  std::map<std::string, SettingValue, std::less<>> values_;
  mutable std::vector<std::string> read_;
};

struct ServerSection {
  int threads = 0;                    ///< 0 = one per core
  std::filesystem::path data_dir;     ///< default "var" next to the config file
  std::string log_level = "info";     ///< debug | info | warning | error
  /// Shared objects with third-party modules, loaded at start (server/plugins.hpp).
  std::vector<std::filesystem::path> plugins;
};

struct DatabaseSection {
  std::optional<std::string> url;     ///< libpq URI or conninfo; unset = embedded cluster
  int pool_size = 8;                  ///< 1..1000
  /// Bounds while the database is slow or away (storage/database.hpp, PoolOptions).
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds query_timeout{10000};
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds reconnect_delay_max{5000};
  /// How long `parley serve` waits for an unreachable database at start; 0 = for ever.
  std::chrono::seconds startup_timeout{0};
};

struct SecuritySection {
  std::filesystem::path key_file;     ///< default <data_dir>/secret.key
  int scram_iterations = 10000;       ///< 4096..10,000,000 (RFC 7677 §4 asks for at least 4096)
  /// Failed logins (server/login_throttle.hpp): the first delay after the free failures,
  /// doubled per further failure up to the maximum.
  std::chrono::milliseconds failed_login_delay{500};
  std::chrono::milliseconds failed_login_delay_max{10000};
  /// How long sign-ins are kept (the signins table).
  std::chrono::hours signin_retention{24 * 90};
};

struct TlsSection {
  std::optional<std::filesystem::path> certificate;  ///< PEM chain
  std::optional<std::filesystem::path> private_key;  ///< PEM key
  std::optional<std::filesystem::path> ca_file;      ///< trust anchors; unset = system store
  /// Session tickets: how long a ticket key encrypts new tickets; tickets under it resume for
  /// one more period, then it is wiped. Also the lifetime of a cached session.
  std::chrono::seconds ticket_key_lifetime{3600};
  std::size_t session_cache_size = 20000;            ///< TLS sessions kept for resumption by ID
};

enum class ListenType { c2s, c2s_tls, s2s, s2s_tls, http };
/// "c2s", "c2s-tls", "s2s", "s2s-tls", "http".
std::string_view to_string(ListenType type);
/// The port each listener type uses when `port` is left out: 5222, 5223, 5269, 5270, 5280.
std::uint16_t default_port(ListenType type);

struct ListenSection {
  ListenType type = ListenType::c2s;
  std::string address = "0.0.0.0";
  std::uint16_t port = 5222;          ///< 0 = any free port (for tests)
  SourceLocation location;
};

struct HostSection {
  std::string domain;                 ///< normalized (ASCII lower case, one trailing dot removed)
  std::vector<std::string> modules;   ///< names as in modules/registry.cpp, checked at serve
  std::optional<std::filesystem::path> certificate;  ///< this domain's own pair, chosen by SNI
  std::optional<std::filesystem::path> private_key;
  /// Each enabled module's own table ([host.NAME]); absent = no settings.
  std::map<std::string, ModuleSettings, std::less<>> module_settings;
  SourceLocation location;
};

/// Bounds on client connections (docs/configuration.md, [limits]).
struct LimitsSection {
  std::chrono::seconds negotiation_timeout{30};  ///< each step before a resource is bound
  std::chrono::seconds idle_timeout{900};        ///< silence from a bound client
  std::size_t max_stanza_bytes = 256 * 1024;     ///< larger: <policy-violation/>
  std::size_t max_depth = 64;                    ///< element levels in a stanza; deeper: <policy-violation/>
  std::size_t max_attributes = 64;               ///< per element; more: <policy-violation/>
  std::size_t write_queue_bytes = 1024 * 1024;   ///< queued output before disconnecting
  int auth_attempts = 3;                         ///< failed SASL exchanges per connection
  std::size_t max_connections = 10000;           ///< open connections in total (clients and servers)
  std::size_t max_connections_per_address = 32;  ///< open client connections from one address
  std::size_t max_sessions_per_account = 16;     ///< bound resources of one account
  std::size_t read_bytes_per_second = 256 * 1024;  ///< what one client may send, sustained...
  std::size_t read_burst_bytes = 1024 * 1024;      ///< ... and at once
  std::chrono::seconds stanza_timeout{60};       ///< to finish a stanza once begun (slowloris)
};

struct FederationSection {
  bool enabled = true;
  /// Static routes, checked before DNS SRV: remote domain -> "host:port".
  std::map<std::string, std::string> routes;
  /// Access control (normalized domains). A non-empty `allow` makes a closed federation:
  /// only those domains; `deny` is checked first and always wins.
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  /// The most an outbound link may take from the first DNS query to an authenticated
  /// stream, every address tried; then its queued stanzas bounce.
  std::chrono::seconds connect_timeout{30};
  /// Each negotiation step of an inbound stream, and silence on an established link.
  std::chrono::seconds negotiation_timeout{30};
  std::chrono::seconds idle_timeout{600};
  /// Server dialback (XEP-0220) for peers without a certificate that proves their domain:
  /// with every domain when true, else only with those in dialback_peers.
  bool dialback = false;
  std::vector<std::string> dialback_peers;

  /// Whether stanzas may flow between this server and `domain` (normalized), by allow/deny.
  bool permits(std::string_view domain) const;
  /// Whether a link with `domain` may be authenticated by dialback.
  bool dialback_allowed(std::string_view domain) const;
};

struct Config {
  std::filesystem::path file;         ///< the file it was read from; empty for --dev
  ServerSection server;
  DatabaseSection database;
  SecuritySection security;
  TlsSection tls;
  std::vector<ListenSection> listen;
  std::vector<HostSection> hosts;
  LimitsSection limits;
  FederationSection federation;

  /// The host section for a domain, or nullptr.
  const HostSection* find_host(std::string_view domain) const;
};

/// Reads and validates a configuration file. Throws ConfigError.
Config load_config(const std::filesystem::path& file);

/// Parses configuration text. `source_name` is used in error messages; relative paths are
/// resolved against `base_dir`. Throws ConfigError.
Config parse_config(std::string_view text, const std::string& source_name,
                    const std::filesystem::path& base_dir);

/// The configuration of `parley --dev`: everything under <base_dir>/var/dev, host
/// "localhost" with `modules`, c2s on 127.0.0.1:5222 and c2s-tls on 127.0.0.1:5223, the
/// development certificates under var/dev/certs, the embedded database.
Config dev_config(const std::filesystem::path& base_dir, std::vector<std::string> modules);

}  // namespace parley::server
