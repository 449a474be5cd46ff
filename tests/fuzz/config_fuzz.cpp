// libFuzzer target: the configuration loader (server/config.hpp: parse_config(), and the
// typed getters of ModuleSettings that modules call when they start).
//
// Input: the text of a parley.toml.
//
// What it asserts:
// - parse_config() either returns a Config or throws ConfigError; any other exception, a
//   crash or undefined behaviour is a bug (an operator's typo must get a message, not a
//   core dump);
// - so do the ModuleSettings getters, called the way the modules call them (ping's
//   durations, mam's integers and strings, ...), then check_all_read();
// - a Config that loaded is consistent: every path is absolute (they are resolved against
//   the config file's directory), host domains are normalized and unique, no two listeners
//   share an address and port, values are within their documented ranges.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "server/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using parley::server::Config;
using parley::server::ConfigError;
using parley::server::ModuleSettings;
using std::chrono::seconds;

// What the modules read when they start (modules/*/); each getter may throw ConfigError.
void read_like_modules(const ModuleSettings& s) {
  auto attempt = [](auto&& read) {
    try {
      read();
    } catch (const ConfigError&) {
    }
  };
  attempt([&] { s.duration("interval", seconds(300), seconds(1), seconds(86400)); });
  attempt([&] { s.duration("timeout", seconds(60), seconds(1), seconds(3600)); });
  attempt([&] { s.integer("max_page", 250, 1, 10000); });
  attempt([&] { s.duration("archive_expiry", seconds(0), seconds(1), seconds(std::int64_t{100} * 365 * 86400)); });
  attempt([&] { s.duration("purge_interval", seconds(3600), seconds(1), seconds(7 * 86400)); });
  attempt([&] { s.string("default_policy", "always"); });
  attempt([&] { s.boolean("pre_approval", true); });
  attempt([&] { s.integer("quota", 1000, 0, 1'000'000); });
  attempt([&] { s.integer("max_total_bytes", 1024 * 1024, 1024, std::int64_t{1} << 32); });
  attempt([&] { s.strings("allow"); });
  attempt([&] { s.check_all_read(); });
}

bool normalized_domain(std::string_view d) {
  if (d.empty() || d.back() == '.') return false;
  for (char c : d) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

void check_config(const Config& c) {
  FUZZ_CHECK(c.server.data_dir.is_absolute(), "data_dir '%s' is relative", c.server.data_dir.c_str());
  FUZZ_CHECK(c.security.key_file.is_absolute(), "key_file '%s' is relative", c.security.key_file.c_str());
  for (const auto* p : {&c.tls.certificate, &c.tls.private_key, &c.tls.ca_file}) {
    FUZZ_CHECK(!*p || (*p)->is_absolute(), "a [tls] path is relative: '%s'", (*p)->c_str());
  }
  FUZZ_CHECK(c.tls.certificate.has_value() == c.tls.private_key.has_value(), "certificate without key");
  for (const auto& plugin : c.server.plugins) {
    FUZZ_CHECK(plugin.is_absolute(), "plugin path '%s' is relative", plugin.c_str());
  }
  FUZZ_CHECK(c.server.threads >= 0 && c.server.threads <= 1024, "threads = %d", c.server.threads);
  FUZZ_CHECK(c.database.pool_size >= 1 && c.database.pool_size <= 1000, "pool_size = %d", c.database.pool_size);
  FUZZ_CHECK(c.security.scram_iterations >= 4096, "scram_iterations = %d", c.security.scram_iterations);
  FUZZ_CHECK(c.limits.max_stanza_bytes >= 1024 && c.limits.auth_attempts >= 1, "limits out of range");

  for (std::size_t i = 0; i < c.listen.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(c.listen[i].port == 0 || c.listen[i].port != c.listen[j].port ||
                     c.listen[i].address != c.listen[j].address,
                 "two listeners on %s:%u", c.listen[i].address.c_str(), unsigned(c.listen[i].port));
    }
  }
  for (const auto& host : c.hosts) {
    FUZZ_CHECK(normalized_domain(host.domain), "host domain '%s' is not normalized", host.domain.c_str());
    FUZZ_CHECK(c.find_host(host.domain) == &host, "host domain '%s' repeated", host.domain.c_str());
    FUZZ_CHECK(host.certificate.has_value() == host.private_key.has_value(), "host certificate without key");
    FUZZ_CHECK(!host.certificate || host.certificate->is_absolute(), "host certificate path is relative");
    for (const auto& [name, settings] : host.module_settings) {
      FUZZ_CHECK(std::find(host.modules.begin(), host.modules.end(), name) != host.modules.end(),
                 "settings for module '%s' that is not enabled", name.c_str());
      read_like_modules(settings);
    }
  }
  for (const auto& [domain, target] : c.federation.routes) {
    FUZZ_CHECK(normalized_domain(domain) && !target.empty(), "route '%s' = '%s'", domain.c_str(), target.c_str());
  }
  for (const auto* list : {&c.federation.allow, &c.federation.deny, &c.federation.dialback_peers}) {
    for (const auto& domain : *list) {
      FUZZ_CHECK(normalized_domain(domain), "federation domain '%s' is not normalized", domain.c_str());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check_config(parley::server::parse_config(text, "fuzz.toml", "/srv/parley"));
  } catch (const ConfigError&) {
    // The one way a configuration may be refused.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config threw %s, not ConfigError: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "parse_config threw something that is not a std::exception\n");
    std::abort();
  }
  return 0;
}
