#pragma once
// Logging to stderr with time and level. Thread-safe: each line is written with one call.
//
// Never pass a password, a secret, a key or a message body to these functions: logs are
// read by people who must not see them (DESIGN.md, security policy).

#include <fmt/format.h>

#include <string_view>

namespace parley::server::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

/// Lines below this level are dropped. Default: info. Not synchronised; set it at start-up.
void set_level(Level level);
Level level();
/// Parses "debug", "info", "warning", "error"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);

void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warning) write(Level::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace parley::server::log
