#include "contrib/bench/options.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <fstream>
#include <set>

namespace parley::bench {
namespace {

const std::set<std::string> kScenarios{"login", "idle", "chat", "presence", "mam", "reconnect", "register"};

long long to_int(const std::string& flag, const std::string& v, long long lo, long long hi) {
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    throw UsageError{flag + " wants an integer between " + std::to_string(lo) + " and " + std::to_string(hi) +
                     ", not '" + v + "'"};
  }
  return n;
}

// Seconds, fractions allowed ("0.5"), for the duration-like flags.
std::chrono::milliseconds to_ms(const std::string& flag, const std::string& v) {
  try {
    std::size_t used = 0;
    double s = std::stod(v, &used);
    if (used == v.size() && s >= 0 && s <= 86400) return std::chrono::milliseconds(static_cast<long long>(s * 1000));
  } catch (const std::exception&) {
  }
  throw UsageError{flag + " wants a number of seconds, not '" + v + "'"};
}

}  // namespace

std::string usage() {
  return R"(usage: parley-bench SCENARIO [options]      (or --scenario SCENARIO)

A load generator that speaks XMPP (RFC 6120/6121) to any server over TLS.

Scenarios:
  login       --count N logins, --concurrency C at a time: logins/s, latency, failures
  idle        hold --count N authenticated connections for --hold S; with --server-pid,
              the server's RSS growth per connection (from /proc/PID/status)
  chat        --pairs P exchange --messages M each (half to bare, half to full JIDs):
              delivered/s, end-to-end latency, lost messages
  presence    --accounts A with --contacts K each (roster + subscription set-up), then
              --rounds R log-in/log-out cycles: presence broadcast latency
  mam         chat as above, then XEP-0313 queries paged by --page-size: query latency
  reconnect   --count N cycles: full login vs TLS session resumption vs XEP-0198 resume
  register    creates accounts 0..--users-1 by in-band registration (XEP-0077)

Connection:
  --host H (127.0.0.1)  --port P (5222; 5223 with --direct-tls)  --domain D (localhost)
  --direct-tls          TLS from the first byte (XEP-0368) instead of STARTTLS
  --ca-file F           trust anchors for the server certificate (default: system store)
  --insecure            do NOT verify the server certificate (self-signed test servers)
  --mechanism M         SCRAM-SHA-256 (default), SCRAM-SHA-1 or PLAIN
  --user-prefix P (bench)  --users U (100)  --password W  (or --password-file F)
  --no-scram-cache      derive SaltedPassword (PBKDF2) on every login; by default it is
                        derived once per account and kept, as clients that log in again do
  --sm                  enable XEP-0198 stream management when offered (acks)
  --allow-remote        permit a --host that is not a loopback address

Bounds and output:
  --timeout S (300)     the whole run stops after S seconds, whatever happens
  --duration S          stop the measured phase after S seconds (login, chat, mam, reconnect)
  --op-timeout S (15)   bound on each protocol step
  --grace S (5)         wait for late stanzas before counting them lost
  --threads T (1)       client threads
  --json FILE           machine-readable summary
  --server-pid PID      read the server's RSS before and after
  --quiet               no progress lines on stderr

Sizes: --count N  --concurrency C (10)  --pairs P (5)  --messages M (100)  --window W (16)
       --accounts A  --contacts K (4)  --rounds R (3)  --page-size N (50)  --hold S (5)

Exit status: 0 measured, 1 failures (failed logins, lost stanzas), 2 usage,
             3 the server does not support what the scenario needs, 4 --timeout reached.
)";
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  std::optional<int> port;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError{a + " needs a value"};
      return args[++i];
    };
    if (a == "-h" || a == "--help") throw UsageError{};
    if (!a.starts_with("-")) {
      if (!o.scenario.empty()) throw UsageError{"unexpected argument '" + a + "'"};
      o.scenario = a;
    } else if (a == "--scenario") {
      o.scenario = value();
    } else if (a == "--host") {
      o.target.host = value();
    } else if (a == "--port") {
      port = static_cast<int>(to_int(a, value(), 1, 65535));
    } else if (a == "--domain") {
      o.target.domain = value();
    } else if (a == "--direct-tls") {
      o.target.direct_tls = true;
    } else if (a == "--ca-file") {
      o.target.ca_file = value();
    } else if (a == "--insecure") {
      o.target.insecure = true;
    } else if (a == "--mechanism") {
      o.target.mechanism = value();
    } else if (a == "--user-prefix") {
      o.target.user_prefix = value();
    } else if (a == "--users") {
      o.target.users = static_cast<int>(to_int(a, value(), 1, 10'000'000));
    } else if (a == "--password") {
      o.target.password = value();
    } else if (a == "--password-file") {
      std::ifstream in(value());
      if (!in || !std::getline(in, o.target.password)) throw UsageError{"cannot read the password file"};
    } else if (a == "--no-scram-cache") {
      o.target.scram_cache.reset();
    } else if (a == "--sm") {
      o.target.sm = true;
    } else if (a == "--allow-remote") {
      o.allow_remote = true;
    } else if (a == "--timeout") {
      o.timeout = std::chrono::seconds(to_int(a, value(), 1, 86400));
    } else if (a == "--duration") {
      o.duration = std::chrono::seconds(to_int(a, value(), 1, 86400));
    } else if (a == "--op-timeout") {
      o.target.op_timeout = to_ms(a, value());
    } else if (a == "--grace") {
      o.grace = to_ms(a, value());
    } else if (a == "--threads") {
      o.threads = static_cast<int>(to_int(a, value(), 1, 256));
    } else if (a == "--json") {
      o.json_file = value();
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<int>(to_int(a, value(), 1, 1 << 30));
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--count") {
      o.count = static_cast<int>(to_int(a, value(), 1, 10'000'000));
    } else if (a == "--concurrency") {
      o.concurrency = static_cast<int>(to_int(a, value(), 1, 100'000));
    } else if (a == "--pairs") {
      o.pairs = static_cast<int>(to_int(a, value(), 1, 100'000));
    } else if (a == "--messages") {
      o.messages = static_cast<int>(to_int(a, value(), 1, 100'000'000));
    } else if (a == "--window") {
      o.window = static_cast<int>(to_int(a, value(), 1, 100'000));
    } else if (a == "--accounts") {
      o.accounts = static_cast<int>(to_int(a, value(), 2, 1'000'000));
    } else if (a == "--contacts") {
      o.contacts = static_cast<int>(to_int(a, value(), 2, 10'000));
    } else if (a == "--rounds") {
      o.rounds = static_cast<int>(to_int(a, value(), 1, 1'000'000));
    } else if (a == "--page-size") {
      o.page_size = static_cast<int>(to_int(a, value(), 1, 10'000));
    } else if (a == "--hold") {
      o.hold = std::chrono::seconds(to_int(a, value(), 0, 86400));
    } else {
      throw UsageError{"unknown option '" + a + "'"};
    }
  }
  if (o.scenario.empty()) throw UsageError{"no scenario given"};
  if (!kScenarios.contains(o.scenario)) throw UsageError{"unknown scenario '" + o.scenario + "'"};
  o.target.port = static_cast<std::uint16_t>(port.value_or(o.target.direct_tls ? 5223 : 5222));
  if (o.target.password.empty()) throw UsageError{"--password (or --password-file) is required"};
  const auto& m = o.target.mechanism;
  if (m != "SCRAM-SHA-256" && m != "SCRAM-SHA-1" && m != "PLAIN") {
    throw UsageError{"--mechanism must be SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN"};
  }
  if (o.target.insecure && !o.target.ca_file.empty()) throw UsageError{"--insecure and --ca-file exclude each other"};
  if (o.count < 0) {
    o.count = o.scenario == "login" ? 200 : o.scenario == "idle" ? 100 : o.scenario == "register" ? o.target.users : 20;
  }
  if (o.scenario == "register") o.target.users = std::max(o.target.users, o.count);
  if (o.accounts < 0) o.accounts = std::min(o.target.users, 20);
  if (o.contacts % 2 != 0) ++o.contacts;  // symmetric ring: K/2 neighbours on each side
  if ((o.scenario == "chat" || o.scenario == "mam") && 2 * o.pairs > o.target.users) {
    throw UsageError{"--pairs " + std::to_string(o.pairs) + " needs " + std::to_string(2 * o.pairs) +
                     " accounts, but --users is " + std::to_string(o.target.users)};
  }
  if (o.scenario == "presence") {
    if (o.accounts > o.target.users) throw UsageError{"--accounts cannot exceed --users"};
    if (o.contacts >= o.accounts) throw UsageError{"--contacts must be smaller than --accounts"};
  }
  return o;
}

bool is_loopback_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    throw UsageError{"cannot resolve --host " + host};
  }
  bool loopback = true;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(p->ai_addr);
      if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) loopback = false;
    } else if (p->ai_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(p->ai_addr);
      if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) loopback = false;
    } else {
      loopback = false;
    }
  }
  ::freeaddrinfo(res);
  return loopback;
}

}  // namespace parley::bench
