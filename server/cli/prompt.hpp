#pragma once
// Reading answers from the person at the terminal, or from standard input in scripts.
// Passwords are never taken from argv (they would show in `ps` and shell history).

#include <optional>
#include <string>

namespace parley::server::cli {

/// On a terminal: asks twice with echo off (when `confirm`), and returns nullopt if the two
/// differ. Otherwise reads one line from standard input. nullopt at end of input.
std::optional<std::string> read_password(const std::string& prompt, bool confirm);

/// Asks a yes/no question on stderr and reads the answer from standard input; "y" or "yes"
/// (any case) is yes, anything else, including end of input, is no.
bool confirm(const std::string& question);

}  // namespace parley::server::cli
