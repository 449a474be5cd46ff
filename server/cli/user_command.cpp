// parley user add|passwd|del|list
#include <iostream>

#include "server/cli/commands.hpp"
#include "server/cli/prompt.hpp"

namespace parley::server::cli {
namespace {

// A bare JID with a localpart, whose domain this server hosts.
Jid account_jid(const std::string& text, const Config& config) {
  auto jid = Jid::parse(text);
  if (!jid || !jid->has_local() || !jid->is_bare()) {
    throw UsageError("'" + text + "' is not an account address (user@domain, no resource)");
  }
  if (config.find_host(jid->domain()) == nullptr) {
    throw std::runtime_error(std::string(jid->domain()) +
                             " is not a host of this server (no [[host]] with that domain)");
  }
  return *jid;
}

// Reads a password from standard input and prepares it; nullopt after printing why not.
std::optional<PreparedPassword> new_password() {
  auto text = read_password("Password: ", true);
  if (!text) {
    std::cerr << "parley: no password given (or the two entries differ)\n";
    return std::nullopt;
  }
  auto prepared = PreparedPassword::from(*text);
  if (!prepared) {
    std::cerr << "parley: a password must be 1 to 1023 bytes of valid UTF-8 without control "
                 "characters\n";
  }
  return prepared;
}

int report(const storage::Result<void>& r, const std::string& done) {
  if (!r.ok()) {
    std::cerr << "parley: " << r.error().message << '\n';
    return 1;
  }
  std::cout << done << '\n';
  return 0;
}

void expect_args(const Options& o, std::size_t n, const char* usage) {
  if (o.args.size() != n) throw UsageError(std::string("usage: parley ") + usage);
}

}  // namespace

int user_command(const Options& options, Deployment& deployment) {
  if (options.args.size() < 2) throw UsageError("usage: parley user add|passwd|del|list ...");
  const std::string& action = options.args[1];
  const Config& config = deployment.config();
  if (action == "list") {
    expect_args(options, 3, "user list DOMAIN");
    auto domain = normalize_domain(options.args[2]);
    if (!domain) throw UsageError("'" + options.args[2] + "' is not a domain");
    auto r = deployment.accounts().list(*domain);
    if (!r.ok()) {
      std::cerr << "parley: " << r.error().message << '\n';
      return 1;
    }
    for (const auto& jid : *r) std::cout << jid << '\n';
    return 0;
  }
  if (action == "add" || action == "passwd") {
    expect_args(options, 3, action == "add" ? "user add JID" : "user passwd JID");
    Jid jid = account_jid(options.args[2], config);
    AccountStore& accounts = deployment.accounts();
    auto password = new_password();
    if (!password) return 1;
    if (action == "add") return report(accounts.create(jid, *password), "created " + jid.str());
    return report(accounts.set_password(jid, *password), "password changed for " + jid.str());
  }
  if (action == "del") {
    expect_args(options, 3, "user del JID [--yes]");
    Jid jid = account_jid(options.args[2], config);
    AccountStore& accounts = deployment.accounts();
    auto exists = accounts.exists(jid);
    if (exists.ok() && !*exists) {
      std::cerr << "parley: " << jid.str() << " does not exist\n";
      return 1;
    }
    if (!options.yes && !confirm("Delete " + jid.str() + " and everything it owns?")) {
      std::cerr << "parley: nothing deleted\n";
      return 1;
    }
    return report(accounts.remove(jid), "deleted " + jid.str());
  }
  throw UsageError("unknown user action '" + action + "' (add, passwd, del, list)");
}

}  // namespace parley::server::cli
