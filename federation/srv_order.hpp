#pragma once
// Where to connect for a remote domain, decided from DNS answers: the Asio-free half of
// the SRV resolver (srv_resolver.hpp), kept apart so that the rules are unit-tested
// without a network.
//
// The rules (RFC 6120 §3.2, RFC 2782, XEP-0368):
//   - Both _xmpps-server._tcp.DOMAIN (direct TLS) and _xmpp-server._tcp.DOMAIN (STARTTLS)
//     are looked up; their records are mixed as one set, as XEP-0368 §3 says: lowest
//     priority first, weighted random order within a priority (RFC 2782).
//   - A target "." means "decidedly not available" (RFC 2782). When no usable record is
//     left and either service said so, the domain offers no XMPP server service: no
//     A/AAAA fallback (RFC 6120 §3.2.1; XEP-0368 §5 for _xmpps-server). A "." next to
//     real records is ignored.
//   - No SRV record at all (no data, the name does not exist, or no usable answer: a
//     timeout or SERVFAIL): fall back to DOMAIN itself on port 5269 with STARTTLS (RFC 6120
//     §3.2.1, §3.2.2); the A/AAAA lookup then decides, and the plan's reason keeps
//     what went wrong with SRV.
//   - Once SRV targets exist, they are all there is: the caller does not fall back to
//     A/AAAA when none of them can be reached (RFC 6120 §3.2.1).
//
// Functions only; thread-safe as long as each thread brings its own random engine.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace parley::federation {

/// The default s2s port (RFC 6120 §3.2.2, IANA "xmpp-server").
inline constexpr std::uint16_t kXmppServerPort = 5269;

/// One SRV record (RFC 2782), tagged with the service it came from.
struct SrvRecord {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target;       ///< as received; "" or "." is "service not available"
  bool direct_tls = false;  ///< from _xmpps-server (XEP-0368), else _xmpp-server
};

/// How one DNS lookup ended.
enum class LookupStatus {
  ok,        ///< an answer with records
  no_data,   ///< the name exists, no record of that type
  nxdomain,  ///< the name does not exist
  timeout,   ///< no answer in time
  failure,   ///< anything else: SERVFAIL, REFUSED, malformed answer, shutdown
};

/// The answer to one SRV query.
struct SrvAnswer {
  LookupStatus status = LookupStatus::no_data;
  std::vector<SrvRecord> records;
  std::string error;  ///< the resolver's words when status is failure
};

/// A place to connect to, in the order to try. `host` is a DNS name (lower case, no
/// trailing dot) or an IP address without brackets.
struct Candidate {
  std::string host;
  std::uint16_t port = kXmppServerPort;
  bool direct_tls = false;
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

/// Why a remote domain cannot be reached, for stream errors and logs.
enum class ResolveError {
  none,
  bad_domain,           ///< not a valid domain name
  nxdomain,             ///< the domain does not exist
  service_unavailable,  ///< SRV target "." : the domain runs no XMPP server
  no_address,           ///< targets exist, none of them has an address
  timeout,              ///< DNS gave no answer in time
  failure,              ///< DNS failed otherwise (SERVFAIL, REFUSED, ...)
};
std::string_view to_string(ResolveError error);

/// RFC 2782's order: priority ascending; within one priority, repeatedly pick a record at
/// random with probability proportional to its weight, where weight-0 records are put
/// first so that they keep a small chance (1 in sum+1) ahead of the others (the others
/// then share the rest in proportion to their weights). When every
/// remaining record of a priority has weight 0, they are shuffled uniformly (RFC 2782
/// gives them no order; a uniform shuffle spreads the load as "no preference" suggests).
std::vector<SrvRecord> order_srv_records(std::vector<SrvRecord> records, std::mt19937_64& rng);

/// What to do for `domain` (A-labels) given its two SRV answers.
struct SrvPlan {
  ResolveError error = ResolveError::none;
  std::string reason;                 ///< what the answers said, for logs
  std::vector<Candidate> candidates;  ///< in order; empty on error
  bool fallback = false;              ///< candidates is DOMAIN:5269 (no SRV records)
                                      ///< or no SRV answer)
};
SrvPlan plan_from_srv(std::string_view domain, const SrvAnswer& xmpps_server,
                      const SrvAnswer& xmpp_server, std::mt19937_64& rng);

/// A static route target from [federation] routes: "host:port", "192.0.2.1:5269" or
/// "[2001:db8::1]:5269" (STARTTLS). nullopt when malformed or the port is 0.
std::optional<Candidate> parse_route(std::string_view target);

}  // namespace parley::federation
