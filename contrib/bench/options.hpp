#pragma once
// parley-bench's command line: which server to talk to, how, and what to measure. Plain
// data and a parser; no Asio, no I/O besides name resolution for the loopback check.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/sasl/scram.hpp"

namespace parley::bench {

/// How to reach the server under test and log in; shared by every scenario. A plain value
/// (copies share the SCRAM cache).
struct Target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;             ///< 0: 5222, or 5223 with direct_tls
  std::string domain = "localhost";   ///< the stream's 'to', SNI, the certificate's name
  bool direct_tls = false;            ///< XEP-0368 instead of STARTTLS
  std::string ca_file;                ///< trust anchors; empty: the system store
  bool insecure = false;              ///< no certificate verification at all
  std::string mechanism = "SCRAM-SHA-256";  ///< SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN
  std::string user_prefix = "bench";  ///< accounts are <prefix>0 .. <prefix>(users-1)
  std::string password;
  int users = 100;                    ///< accounts that exist on the server
  bool sm = false;                    ///< enable XEP-0198 when offered
  std::chrono::milliseconds op_timeout{15000};  ///< bound on each protocol step
  /// SaltedPassword per account, shared by every connection, as clients that log in again
  /// keep it (RFC 5802 §5.1); null with --no-scram-cache: PBKDF2 on every login.
  std::shared_ptr<server::sasl::SaltedPasswordCache> scram_cache =
      std::make_shared<server::sasl::SaltedPasswordCache>();

  std::string user(int i) const { return user_prefix + std::to_string(i % users); }
  std::string bare_jid(int i) const { return user(i) + "@" + domain; }
};

/// One run: the scenario and its sizes. A plain value.
struct Options {
  std::string scenario;               ///< login idle chat presence mam reconnect register
  Target target;
  bool allow_remote = false;
  int threads = 1;                    ///< io_contexts, one thread each
  std::chrono::seconds timeout{300};  ///< whole run, setup included
  std::optional<std::chrono::seconds> duration;  ///< optional bound on the measured phase
  std::string json_file;
  bool quiet = false;                 ///< no progress lines
  int server_pid = 0;                 ///< for RSS (idle; reported by every scenario if set)

  int count = -1;          ///< login: logins; idle: connections; reconnect: cycles; register: accounts
  int concurrency = 10;    ///< parallel negotiations
  int pairs = 5;           ///< chat, mam
  int messages = 100;      ///< chat, mam: per pair
  int window = 16;         ///< chat: unacknowledged messages per sender
  std::chrono::milliseconds grace{5000};  ///< chat, presence: wait for late stanzas
  int accounts = -1;       ///< presence: accounts taking part (default: min(users, 20))
  int contacts = 4;        ///< presence: contacts per account (even; fewer than accounts)
  int rounds = 3;          ///< presence: log-in/out cycles per moving account
  int page_size = 50;      ///< mam: RSM <max/>
  std::chrono::seconds hold{5};  ///< idle: how long to hold the connections
};

/// Thrown for a bad command line; main prints it with the usage and exits 2.
struct UsageError {
  std::string message;
};

/// Parses argv (without argv[0]). Throws UsageError.
Options parse_options(const std::vector<std::string>& args);

/// The usage text.
std::string usage();

/// True if every address `host` resolves to is a loopback address. Throws UsageError if it
/// does not resolve.
bool is_loopback_host(const std::string& host);

}  // namespace parley::bench
