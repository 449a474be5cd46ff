#include "server/cli/options.hpp"

#include <string_view>

namespace parley::server::cli {

const char* const kUsage = R"(usage: parley COMMAND [ARGS] [--config FILE | --dev]

commands:
  serve                      run the server in the foreground
  migrate                    apply pending database migrations
  user add JID               create an account (password read from standard input)
  user passwd JID            set an account's password (read from standard input)
  user del JID [--yes]       delete an account and everything it owns
  user list DOMAIN           list the accounts of a domain
  cert dev --out DIR --domain D [--domain D2 ...]
                             write a development CA and certificates for the domains
  check                      check configuration, certificates, database and migrations

options (before or after the arguments):
  --config FILE   configuration file (default: $PARLEY_CONFIG, else /etc/parley/parley.toml)
  --dev           development setup under ./var/dev: embedded PostgreSQL, dev CA, localhost
  --yes           answer yes to confirmation questions
  -h, --help      this text
)";

Options parse_options(int argc, const char* const* argv) {
  Options o;
  bool only_args = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (only_args || a.empty() || a[0] != '-' || a == "-") {
      o.args.emplace_back(a);
      continue;
    }
    if (a == "--") {
      only_args = true;
      continue;
    }
    std::string name(a);
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); eq != std::string_view::npos && a.starts_with("--")) {
      name = std::string(a.substr(0, eq));
      inline_value = std::string(a.substr(eq + 1));
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError(name + " needs a value");
      return argv[++i];
    };
    auto flag = [&](bool& f) {
      if (inline_value) throw UsageError(name + " takes no value");
      f = true;
    };
    if (name == "--config" || name == "-c") {
      o.config = value();
    } else if (name == "--dev") {
      flag(o.dev);
    } else if (name == "--yes" || name == "-y") {
      flag(o.yes);
    } else if (name == "--help" || name == "-h") {
      flag(o.help);
    } else if (name == "--out") {
      o.out = value();
    } else if (name == "--domain") {
      o.domains.push_back(value());
    } else {
      throw UsageError("unknown option " + name);
    }
  }
  if (o.config && o.dev) throw UsageError("--config and --dev exclude each other");
  return o;
}

}  // namespace parley::server::cli
