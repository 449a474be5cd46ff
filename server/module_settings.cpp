// ModuleSettings: typed access to a module's own table in a host ([host.NAME]), with errors
// that name the key and its line like the rest of the configuration.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "server/config.hpp"

namespace parley::server {

const SettingValue* ModuleSettings::find(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return nullptr;
  if (std::find(read_.begin(), read_.end(), key) == read_.end()) read_.emplace_back(key);
  return &it->second;
}

void ModuleSettings::fail(const SettingValue& v, std::string_view key, std::string_view what) const {
  throw ConfigError(fmt::format("{}: '{}.{}' {}", v.location.str(), path_, key, what));
}

std::int64_t ModuleSettings::integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                                     std::int64_t max) const {
  const SettingValue* v = find(key);
  if (v == nullptr) return fallback;
  const auto* n = std::get_if<std::int64_t>(&v->value);
  if (n == nullptr) fail(*v, key, "must be an integer");
  if (*n < min || *n > max) fail(*v, key, fmt::format("must be between {} and {}, not {}", min, max, *n));
  return *n;
}

bool ModuleSettings::boolean(std::string_view key, bool fallback) const {
  const SettingValue* v = find(key);
  if (v == nullptr) return fallback;
  const auto* b = std::get_if<bool>(&v->value);
  if (b == nullptr) fail(*v, key, "must be true or false");
  return *b;
}

std::string ModuleSettings::string(std::string_view key, std::string fallback) const {
  const SettingValue* v = find(key);
  if (v == nullptr) return fallback;
  const auto* s = std::get_if<std::string>(&v->value);
  if (s == nullptr) fail(*v, key, "must be a string");
  return *s;
}

std::vector<std::string> ModuleSettings::strings(std::string_view key) const {
  const SettingValue* v = find(key);
  if (v == nullptr) return {};
  const auto* list = std::get_if<std::vector<std::string>>(&v->value);
  if (list == nullptr) fail(*v, key, "must be an array of strings");
  return *list;
}

std::chrono::seconds ModuleSettings::duration(std::string_view key, std::chrono::seconds fallback,
                                              std::chrono::seconds min, std::chrono::seconds max) const {
  const SettingValue* v = find(key);
  if (v == nullptr) return fallback;
  std::int64_t seconds = 0;
  if (const auto* n = std::get_if<std::int64_t>(&v->value)) {
    seconds = *n;
  } else if (const auto* s = std::get_if<std::string>(&v->value); s != nullptr && s->size() >= 2) {
    std::int64_t count = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size() - 1, count);
    std::int64_t unit = 0;
    switch (s->back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
    }
    if (ec != std::errc() || end != s->data() + s->size() - 1 || unit == 0 || count < 0) {
      fail(*v, key, "must be a duration like \"45s\", \"15m\", \"12h\", \"30d\" or \"52w\"");
    }
    // Above max whatever the unit: refused before count * unit can overflow.
    if (count > max.count() / unit) {
      fail(*v, key, fmt::format("must be between {}s and {}s", min.count(), max.count()));
    }
    seconds = count * unit;
  } else {
    fail(*v, key, "must be a duration like \"45s\", \"15m\", \"12h\", \"30d\" or \"52w\"");
  }
  if (seconds < min.count() || seconds > max.count()) {
    fail(*v, key, fmt::format("must be between {}s and {}s", min.count(), max.count()));
  }
  return std::chrono::seconds(seconds);
}

void ModuleSettings::check_all_read() const {
  const std::pair<const std::string, SettingValue>* first = nullptr;
  for (const auto& kv : values_) {
    if (std::find(read_.begin(), read_.end(), kv.first) != read_.end()) continue;
    if (first == nullptr || kv.second.location.line < first->second.location.line) first = &kv;
  }
  if (first != nullptr) {
    throw ConfigError(fmt::format("{}: unknown key '{}.{}'", first->second.location.str(), path_, first->first));
  }
}

}  // namespace parley::server
