#include "server/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace fs = std::filesystem;

namespace parley::server {
namespace {

constexpr std::array<std::pair<ListenType, std::string_view>, 5> kListenTypes{{
    {ListenType::c2s, "c2s"},
    {ListenType::c2s_tls, "c2s-tls"},
    {ListenType::s2s, "s2s"},
    {ListenType::s2s_tls, "s2s-tls"},
    {ListenType::http, "http"},
}};

// ---------------------------------------------------------------------------------------
// Key paths, written the way an operator would write them in the file: server.threads,
// host[0].modules[2], federation.routes."other.test".

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

std::string key_path(const std::string& parent, std::string_view key) {
  std::string part;
  if (is_bare_key(key)) {
    part = key;
  } else {
    part = "\"";
    for (char c : key) {
      if (c == '"' || c == '\\') part += '\\';
      part += c;
    }
    part += '"';
  }
  return parent.empty() ? part : parent + "." + part;
}

std::string index_path(const std::string& parent, std::size_t i) {
  return fmt::format("{}[{}]", parent, i);
}

// ---------------------------------------------------------------------------------------
// Domain names. This is a deliberately small check, independent of the JID code: ASCII is
// lower-cased and must be LDH labels (RFC 1123 §2.1); labels with non-ASCII bytes (IDNs)
// are let through as UTF-8 with only their ASCII letters lower-cased.

/// The normalised domain, or an empty string with `why` set.
std::string normalize_config_domain(std::string_view text, std::string& why) {
  std::string domain;
  domain.reserve(text.size());
  for (char c : text) {
    domain += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (!domain.empty() && domain.back() == '.') domain.pop_back();  // one root dot
  if (domain.empty()) {
    why = "it is empty";
    return {};
  }
  bool ascii = true;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t end = domain.find('.', start);
    if (end == std::string::npos) end = domain.size();
    std::string_view label(domain.data() + start, end - start);
    if (label.empty()) {
      why = "it has an empty label";
      return {};
    }
    bool label_ascii = true;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (u >= 0x80) {
        label_ascii = false;
      } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        why = u < 0x20 || u == 0x7f ? "it contains a control character"
                                    : fmt::format("it contains '{}'", c);
        return {};
      }
    }
    ascii = ascii && label_ascii;
    if (label_ascii && label.size() > 63) {
      why = fmt::format("label '{}' is longer than 63 characters", label);
      return {};
    }
    if (label.front() == '-' || label.back() == '-') {
      why = fmt::format("label '{}' starts or ends with '-'", label);
      return {};
    }
    start = end + 1;
  }
  if ((ascii && domain.size() > 253) || domain.size() > 1023) {  // DNS; RFC 7622 §3.2
    why = "it is too long";
    return {};
  }
  return domain;
}

/// Checks a static route's target: "host:port", "[v6-address]:port". Empty if fine.
std::string check_route_target(std::string_view target) {
  std::string_view host;
  std::string_view port;
  if (!target.empty() && target.front() == '[') {
    auto close = target.find(']');
    if (close == std::string_view::npos) return "']' is missing after the IPv6 address";
    host = target.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) return "brackets are for IPv6 addresses only";
    if (close + 1 >= target.size() || target[close + 1] != ':') return "the port is missing";
    port = target.substr(close + 2);
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string_view::npos) return "the port is missing";
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address must be written in brackets, e.g. \"[::1]:5269\"";
    }
  }
  if (host.empty()) return "the host is empty";
  if (std::any_of(host.begin(), host.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '[' || c == ']';
      })) {
    return fmt::format("'{}' is not a host name or address", host);
  }
  long value = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "the port must be a number between 1 and 65535";
  }
  for (char c : port) value = value * 10 + (c - '0');
  if (value < 1 || value > 65535) return "the port must be a number between 1 and 65535";
  return {};
}

// ---------------------------------------------------------------------------------------
// Reading.

/// Knows the file's name and base directory; turns a source position into an error.
class Reader {
 public:
  Reader(std::string source, fs::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  [[noreturn]] void fail(const toml::source_region& at, std::string_view message) const {
    throw ConfigError(fmt::format("{}: {}", where(at), message));
  }

  std::string where(const toml::source_region& at) const {
    if (at.begin.line == 0) return source_;
    return fmt::format("{}:{}:{}", source_, at.begin.line, at.begin.column);
  }

  SourceLocation location(const toml::node& node) const {
    return {source_, static_cast<int>(node.source().begin.line)};
  }

  fs::path resolve(const fs::path& path) const {
    return (path.is_absolute() ? path : base_dir_ / path).lexically_normal();
  }

 private:
  std::string source_;
  fs::path base_dir_;
};

/// One TOML table being read: its full path, the keys it allows, and typed getters that
/// report errors at the offending value. Unknown keys are rejected on construction.
class Section {
 public:
  Section(const Reader& reader, const toml::table& table, std::string path,
          std::initializer_list<std::string_view> known)
      : Section(reader, table, std::move(path), std::vector<std::string_view>(known)) {}

  Section(const Reader& reader, const toml::table& table, std::string path,
          const std::vector<std::string_view>& known)
      : reader_(reader), table_(table), path_(std::move(path)) {
    // The table iterates in key order; report the unknown key that comes first in the file.
    const toml::key* first = nullptr;
    for (auto&& [key, node] : table_) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      if (first == nullptr || key.source().begin < first->source().begin) first = &key;
    }
    if (first != nullptr) {
      reader_.fail(first->source(), fmt::format("unknown key '{}'", path_of(first->str())));
    }
  }

  const Reader& reader() const { return reader_; }
  std::string path_of(std::string_view key) const { return key_path(path_, key); }

  [[noreturn]] void fail(const toml::node& at, std::string_view key,
                         std::string_view message) const {
    reader_.fail(at.source(), fmt::format("'{}' {}", path_of(key), message));
  }

  const toml::node* find(std::string_view key) const { return table_.get(key); }

  const toml::node& require(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) reader_.fail(table_.source(), fmt::format("missing key '{}'", path_of(key)));
    return *node;
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min,
                                      std::int64_t max) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    const auto* value = node->as_integer();
    if (value == nullptr) fail(*node, key, "must be an integer");
    if (value->get() < min || value->get() > max) {
      fail(*node, key, fmt::format("must be between {} and {}, not {}", min, max, value->get()));
    }
    return value->get();
  }

  std::optional<bool> boolean(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_boolean()) fail(*node, key, "must be true or false");
    return node->as_boolean()->get();
  }

  /// A non-empty string.
  std::optional<std::string> string(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    return string_value(*node, key);
  }

  std::string string_value(const toml::node& node, std::string_view key) const {
    if (!node.is_string()) fail(node, key, "must be a string");
    const std::string& text = node.as_string()->get();
    if (text.empty()) fail(node, key, "must not be empty");
    return text;
  }

  /// A string naming a file or directory, resolved against the base directory.
  std::optional<fs::path> path(std::string_view key) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    return reader_.resolve(fs::path(*text));
  }

  std::optional<std::string> one_of(std::string_view key,
                                    std::initializer_list<std::string_view> choices) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *text) == choices.end()) {
      fail(*find(key), key, fmt::format("must be one of {}", fmt::join(choices, ", ")));
    }
    return text;
  }

  const toml::table* table(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) fail(*node, key, "must be a table");
    return node->as_table();
  }

  /// [[key]] entries; each element is checked to be a table.
  const toml::array* array_of_tables(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    const auto* array = node->as_array();
    if (array == nullptr) fail(*node, key, fmt::format("must be an array of tables ([[{}]])", key));
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      if (!element.is_table()) {
        reader_.fail(element.source(),
                     fmt::format("'{}' must be a table", index_path(path_of(key), i)));
      }
    }
    return array;
  }

  /// A certificate and its key: both or neither.
  void require_together(std::string_view a, std::string_view b) const {
    const toml::node* node_a = find(a);
    const toml::node* node_b = find(b);
    if ((node_a == nullptr) == (node_b == nullptr)) return;
    auto [given, missing] = node_a != nullptr ? std::pair{a, b} : std::pair{b, a};
    fail(*find(given), given, fmt::format("is given without '{}'", path_of(missing)));
  }

 private:
  const Reader& reader_;
  const toml::table& table_;
  std::string path_;
};

Section sub_section(const Section& parent, std::string_view key,
                    std::initializer_list<std::string_view> known) {
  static const toml::table kEmpty;
  const toml::table* table = parent.table(key);
  return Section(parent.reader(), table != nullptr ? *table : kEmpty, parent.path_of(key), known);
}

std::vector<std::string> read_modules(const Section& s);
std::vector<std::string> read_strings(const Section& s, std::string_view key);

void read_server(const Section& root, Config& config) {
  Section s = sub_section(root, "server", {"threads", "data_dir", "log_level", "plugins"});
  config.server.threads = static_cast<int>(s.integer("threads", 0, 1024).value_or(0));
  config.server.data_dir = s.path("data_dir").value_or(s.reader().resolve("var"));
  config.server.log_level =
      s.one_of("log_level", {"debug", "info", "warning", "error"}).value_or("info");
  for (const auto& plugin : read_strings(s, "plugins")) {
    config.server.plugins.push_back(s.reader().resolve(plugin));
  }
}

void read_database(const Section& root, Config& config) {
  Section s = sub_section(root, "database", {"url", "pool_size", "acquire_timeout", "query_timeout",
                                            "connect_timeout", "reconnect_delay_max", "startup_timeout"});
  auto& d = config.database;
  d.url = s.string("url");
  d.pool_size = static_cast<int>(s.integer("pool_size", 1, 1000).value_or(8));
  d.acquire_timeout = std::chrono::milliseconds(s.integer("acquire_timeout", 100, 600'000).value_or(5000));
  d.query_timeout = std::chrono::milliseconds(s.integer("query_timeout", 100, 3'600'000).value_or(10000));
  d.connect_timeout = std::chrono::seconds(s.integer("connect_timeout", 2, 600).value_or(5));
  d.reconnect_delay_max = std::chrono::milliseconds(s.integer("reconnect_delay_max", 100, 600'000).value_or(5000));
  d.startup_timeout = std::chrono::seconds(s.integer("startup_timeout", 0, 86400).value_or(0));
}

void read_security(const Section& root, Config& config) {
  Section s = sub_section(root, "security", {"key_file", "scram_iterations", "failed_login_delay",
                                            "failed_login_delay_max", "signin_retention_days"});
  config.security.key_file =
      s.path("key_file").value_or((config.server.data_dir / "secret.key").lexically_normal());
  config.security.scram_iterations =
      static_cast<int>(s.integer("scram_iterations", 4096, 10'000'000).value_or(10000));
  auto& sec = config.security;
  sec.failed_login_delay = std::chrono::milliseconds(s.integer("failed_login_delay", 0, 10000).value_or(500));
  // (A session extends its negotiation deadline by the delay it imposes.)
  sec.failed_login_delay_max =
      std::chrono::milliseconds(s.integer("failed_login_delay_max", 0, 20000).value_or(10000));
  sec.signin_retention = std::chrono::hours(24 * s.integer("signin_retention_days", 1, 3650).value_or(90));
}

void read_tls(const Section& root, Config& config) {
  Section s = sub_section(root, "tls", {"certificate", "private_key", "ca_file", "ticket_key_lifetime",
                                       "session_cache_size"});
  s.require_together("certificate", "private_key");
  config.tls.certificate = s.path("certificate");
  config.tls.private_key = s.path("private_key");
  config.tls.ca_file = s.path("ca_file");
  config.tls.ticket_key_lifetime =
      std::chrono::seconds(s.integer("ticket_key_lifetime", 60, 7 * 86400).value_or(3600));
  config.tls.session_cache_size = static_cast<std::size_t>(s.integer("session_cache_size", 0, 10'000'000).value_or(20000));
}

void read_listeners(const Section& root, Config& config) {
  const toml::array* array = root.array_of_tables("listen");
  if (array == nullptr) return;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    Section s(root.reader(), table, index_path("listen", i), {"type", "address", "port"});
    ListenSection listen;
    s.require("type");
    auto type = s.one_of("type", {"c2s", "c2s-tls", "s2s", "s2s-tls", "http"});
    for (auto [value, name] : kListenTypes) {
      if (name == *type) listen.type = value;
    }
    listen.address = s.string("address").value_or("0.0.0.0");
    listen.port = static_cast<std::uint16_t>(
        s.integer("port", 0, 65535).value_or(default_port(listen.type)));
    listen.location = s.reader().location(table);
    // Two listeners on the same address and port cannot both bind; say so here, with lines.
    for (const ListenSection& other : config.listen) {
      if (listen.port != 0 && other.port == listen.port && other.address == listen.address) {
        s.reader().fail(table.source(),
                        fmt::format("'{}' listens on {}:{} like the listener at {}",
                                    index_path("listen", i), listen.address, listen.port,
                                    other.location.str()));
      }
    }
    config.listen.push_back(std::move(listen));
  }
}

/// An array of non-empty strings, no repeats.
std::vector<std::string> read_strings(const Section& s, std::string_view key) {
  std::vector<std::string> modules;
  const toml::node* node = s.find(key);
  if (node == nullptr) return modules;
  const toml::array* array = node->as_array();
  if (array == nullptr) s.fail(*node, key, "must be an array of strings");
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    std::string element_path = index_path(s.path_of(key), i);
    if (!element.is_string()) {
      s.reader().fail(element.source(), fmt::format("'{}' must be a string", element_path));
    }
    if (element.as_string()->get().empty()) {
      s.reader().fail(element.source(), fmt::format("'{}' must not be empty", element_path));
    }
    std::string name = element.as_string()->get();
    if (std::find(modules.begin(), modules.end(), name) != modules.end()) {
      s.reader().fail(element.source(), fmt::format("'{}' repeats {} '{}'", element_path,
                                                    key == "modules" ? "module" : "entry", name));
    }
    modules.push_back(std::move(name));
  }
  return modules;
}

std::vector<std::string> read_modules(const Section& s) { return read_strings(s, "modules"); }

/// A module's own table, [host.NAME]: booleans, integers, strings and arrays of strings.
ModuleSettings read_module_settings(const Section& host, const std::string& name) {
  const toml::table* table = host.table(name);
  std::map<std::string, SettingValue, std::less<>> values;
  std::string path = host.path_of(name);
  for (auto&& [key, node] : *table) {
    std::string key_name(key.str());
    SettingValue v;
    v.location = host.reader().location(node);
    if (node.is_boolean()) {
      v.value = node.as_boolean()->get();
    } else if (node.is_integer()) {
      v.value = node.as_integer()->get();
    } else if (node.is_string()) {
      v.value = node.as_string()->get();
    } else if (const toml::array* array = node.as_array(); array != nullptr && array->is_homogeneous<std::string>()) {
      std::vector<std::string> items;
      for (const auto& item : *array) items.push_back(item.as_string()->get());
      v.value = std::move(items);
    } else {
      host.reader().fail(node.source(),
                         fmt::format("'{}' must be true/false, an integer, a string or an array of strings",
                                     key_path(path, key_name)));
    }
    values.emplace(key_name, std::move(v));
  }
  return ModuleSettings(path, std::move(values));
}

void read_hosts(const Section& root, Config& config) {
  const toml::array* array = root.array_of_tables("host");
  if (array == nullptr) return;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    // Each enabled module may have its own table, [host.NAME]; so the allowed keys depend on
    // the modules list, read first.
    std::vector<std::string_view> every_key;
    for (auto&& [key, node] : table) every_key.push_back(key.str());
    std::vector<std::string> modules =
        read_modules(Section(root.reader(), table, index_path("host", i), every_key));
    std::vector<std::string_view> known{"domain", "modules", "certificate", "private_key"};
    known.insert(known.end(), modules.begin(), modules.end());
    Section s(root.reader(), table, index_path("host", i), known);
    HostSection host;
    const toml::node& domain_node = s.require("domain");
    std::string why;
    host.domain = normalize_config_domain(s.string_value(domain_node, "domain"), why);
    if (host.domain.empty()) {
      s.fail(domain_node, "domain", fmt::format("is not a valid domain name: {}", why));
    }
    if (const HostSection* other = config.find_host(host.domain)) {
      s.fail(domain_node, "domain",
             fmt::format("repeats the domain '{}' of the host at {}", host.domain,
                         other->location.str()));
    }
    host.modules = std::move(modules);
    for (const auto& name : host.modules) {
      if (s.find(name) != nullptr) host.module_settings.emplace(name, read_module_settings(s, name));
    }
    s.require_together("certificate", "private_key");
    host.certificate = s.path("certificate");
    host.private_key = s.path("private_key");
    host.location = s.reader().location(table);
    config.hosts.push_back(std::move(host));
  }
}

void read_limits(const Section& root, Config& config) {
  Section s = sub_section(root, "limits", {"negotiation_timeout", "idle_timeout", "max_stanza_bytes",
                                           "max_depth", "max_attributes", "write_queue_bytes",
                                           "auth_attempts", "max_connections", "max_connections_per_address",
                                           "max_sessions_per_account", "read_bytes_per_second",
                                           "read_burst_bytes", "stanza_timeout"});
  LimitsSection& l = config.limits;
  l.negotiation_timeout = std::chrono::seconds(s.integer("negotiation_timeout", 1, 3600).value_or(30));
  l.idle_timeout = std::chrono::seconds(s.integer("idle_timeout", 10, 86400 * 7).value_or(900));
  l.max_stanza_bytes = static_cast<std::size_t>(
      s.integer("max_stanza_bytes", 1024, 64 * 1024 * 1024).value_or(256 * 1024));
  l.max_depth = static_cast<std::size_t>(s.integer("max_depth", 8, 1024).value_or(64));
  l.max_attributes = static_cast<std::size_t>(s.integer("max_attributes", 8, 1024).value_or(64));
  l.write_queue_bytes = static_cast<std::size_t>(
      s.integer("write_queue_bytes", 16 * 1024, 1024 * 1024 * 1024).value_or(1024 * 1024));
  l.auth_attempts = static_cast<int>(s.integer("auth_attempts", 1, 100).value_or(3));
  auto size = [&s](std::string_view key, std::int64_t min, std::int64_t max, std::size_t fallback) {
    return static_cast<std::size_t>(s.integer(key, min, max).value_or(static_cast<std::int64_t>(fallback)));
  };
  l.max_connections = size("max_connections", 1, 10'000'000, 10000);
  l.max_connections_per_address = size("max_connections_per_address", 1, 10'000'000, 32);
  l.max_sessions_per_account = size("max_sessions_per_account", 1, 100000, 16);
  l.read_bytes_per_second = size("read_bytes_per_second", 1024, 1LL << 30, 256 * 1024);
  l.read_burst_bytes = size("read_burst_bytes", 1024, 1LL << 30, 1024 * 1024);
  l.stanza_timeout = std::chrono::seconds(s.integer("stanza_timeout", 1, 3600).value_or(60));
}

void read_federation(const Section& root, Config& config) {
  Section s = sub_section(root, "federation", {"enabled", "routes", "allow", "deny", "connect_timeout",
                                               "negotiation_timeout", "idle_timeout", "dialback",
                                               "dialback_peers"});
  FederationSection& f = config.federation;
  f.enabled = s.boolean("enabled").value_or(true);
  f.connect_timeout = std::chrono::seconds(s.integer("connect_timeout", 1, 600).value_or(30));
  f.negotiation_timeout = std::chrono::seconds(s.integer("negotiation_timeout", 1, 600).value_or(30));
  f.idle_timeout = std::chrono::seconds(s.integer("idle_timeout", 10, 86400 * 7).value_or(600));
  f.dialback = s.boolean("dialback").value_or(false);
  for (const char* key : {"allow", "deny", "dialback_peers"}) {
    std::vector<std::string> domains = read_strings(s, key);
    for (std::size_t i = 0; i < domains.size(); ++i) {
      std::string why;
      std::string domain = normalize_config_domain(domains[i], why);
      if (domain.empty()) {
        s.reader().fail(s.find(key)->as_array()->get(i)->source(),
                        fmt::format("'{}' is not a valid domain name: {}", index_path(s.path_of(key), i), why));
      }
      std::string_view k(key);
      (k == "allow" ? f.allow : k == "deny" ? f.deny : f.dialback_peers).push_back(std::move(domain));
    }
  }
  const toml::table* routes = s.table("routes");
  if (routes == nullptr) return;
  std::string routes_path = s.path_of("routes");
  // Key order, not file order: fine, every route is checked on its own.
  for (auto&& [key, node] : *routes) {
    std::string path = key_path(routes_path, key.str());
    std::string why;
    std::string domain = normalize_config_domain(key.str(), why);
    if (domain.empty()) {
      s.reader().fail(key.source(), fmt::format("'{}' is not a valid domain name: {}", path, why));
    }
    if (!node.is_string()) {
      s.reader().fail(node.source(), fmt::format("'{}' must be a string \"host:port\"", path));
    }
    const std::string& target = node.as_string()->get();
    if (std::string problem = check_route_target(target); !problem.empty()) {
      s.reader().fail(node.source(),
                      fmt::format("'{}' must be \"host:port\": {}", path, problem));
    }
    if (!config.federation.routes.emplace(domain, target).second) {
      s.reader().fail(key.source(),
                      fmt::format("'{}' repeats the route for '{}'", path, domain));
    }
  }
}

}  // namespace

bool FederationSection::permits(std::string_view domain) const {
  auto listed = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), domain) != list.end();
  };
  if (listed(deny)) return false;
  return allow.empty() || listed(allow);
}

bool FederationSection::dialback_allowed(std::string_view domain) const {
  if (!permits(domain)) return false;
  return dialback || std::find(dialback_peers.begin(), dialback_peers.end(), domain) != dialback_peers.end();
}

std::string_view to_string(ListenType type) {
  for (auto [value, name] : kListenTypes) {
    if (value == type) return name;
  }
  return "unknown";
}

std::uint16_t default_port(ListenType type) {
  switch (type) {
    case ListenType::c2s: return 5222;      // RFC 6120 §14.7
    case ListenType::c2s_tls: return 5223;  // XEP-0368 §3
    case ListenType::s2s: return 5269;      // RFC 6120 §14.7
    case ListenType::s2s_tls: return 5270;  // XEP-0368 §3
    case ListenType::http: return 5280;     // as ejabberd and Prosody
  }
  return 0;
}

const HostSection* Config::find_host(std::string_view domain) const {
  // Tolerant of what a caller may hold: ASCII case and one root dot do not matter.
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (const HostSection& host : hosts) {
    if (host.domain.size() == domain.size() &&
        std::equal(domain.begin(), domain.end(), host.domain.begin(),
                   [&](char a, char b) { return lower(a) == b; })) {
      return &host;
    }
  }
  return nullptr;
}

Config parse_config(std::string_view text, const std::string& source_name,
                    const fs::path& base_dir) {
  Reader reader(source_name, base_dir.lexically_normal());
  toml::table document;
  try {
    document = toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    reader.fail(e.source(), e.description());
  }
  Section root(reader, document, "",
               {"server", "database", "security", "tls", "listen", "host", "limits", "federation"});
  Config config;
  read_server(root, config);
  read_database(root, config);
  read_security(root, config);
  read_tls(root, config);
  read_listeners(root, config);
  read_hosts(root, config);
  read_limits(root, config);
  read_federation(root, config);
  return config;
}

Config load_config(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file: it is a directory",
                                  file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file: {}", file.string(),
                                  std::strerror(errno)));
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file: {}", file.string(),
                                  std::strerror(errno)));
  }
  // Absolute, so that nothing depends on the working directory later.
  fs::path base_dir = fs::absolute(file, ec).parent_path();
  if (ec) base_dir = file.parent_path();
  Config config = parse_config(text, file.string(), base_dir);
  config.file = file;
  return config;
}

Config dev_config(const fs::path& base_dir, std::vector<std::string> modules) {
  Config config;
  config.server.data_dir = (base_dir / "var" / "dev").lexically_normal();
  const fs::path& data = config.server.data_dir;
  config.security.key_file = data / "secret.key";
  config.tls.certificate = data / "certs" / "localhost.pem";
  config.tls.private_key = data / "certs" / "localhost.key";
  config.tls.ca_file = data / "certs" / "ca.pem";
  config.listen.push_back({ListenType::c2s, "127.0.0.1", 5222, {}});
  config.listen.push_back({ListenType::c2s_tls, "127.0.0.1", 5223, {}});
  HostSection host;
  host.domain = "localhost";
  host.modules = std::move(modules);
  config.hosts.push_back(std::move(host));
  config.federation.enabled = false;
  return config;
}

}  // namespace parley::server
