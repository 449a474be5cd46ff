#pragma once
// The command line of `parley`: subcommand words and options, options allowed before or
// after the arguments (`parley --dev user add a@localhost` = `parley user add a@localhost --dev`).

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::server::cli {

/// A mistake in the command line; main prints it with the usage and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::vector<std::string> args;       ///< subcommand words and their arguments, in order
  std::optional<std::string> config;   ///< --config FILE
  bool dev = false;                    ///< --dev
  bool yes = false;                    ///< --yes: no confirmation questions
  bool help = false;                   ///< --help / -h
  std::optional<std::string> out;      ///< --out DIR (cert dev)
  std::vector<std::string> domains;    ///< --domain D, repeatable (cert dev)
};

/// Throws UsageError for an unknown option, a missing value, or --config with --dev.
Options parse_options(int argc, const char* const* argv);

extern const char* const kUsage;

}  // namespace parley::server::cli
