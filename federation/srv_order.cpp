#include "federation/srv_order.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace parley::federation {
namespace {

bool is_dot_target(std::string_view target) { return target.empty() || target == "."; }

std::string host_of(std::string_view target) {
  if (!target.empty() && target.back() == '.') target.remove_suffix(1);
  std::string host(target);
  for (char& c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return host;
}

std::size_t pick_weighted(const std::vector<SrvRecord>& group, std::mt19937_64& rng) {
  std::uint64_t sum = 0;
  for (const auto& r : group) sum += r.weight;
  if (sum == 0) return std::uniform_int_distribution<std::size_t>(0, group.size() - 1)(rng);
  // RFC 2782: a random number in [0, sum], then the first record whose running sum is at
  // least that number. The 0 is there for the weight-0 records placed first; without any,
  // it would only favour the first record (weights 1 and 3 would come out 2:3, not 1:3),
  // so then the number is drawn from [1, sum] and the choice is exactly proportional.
  bool has_zero = std::any_of(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
  std::uint64_t pick = std::uniform_int_distribution<std::uint64_t>(has_zero ? 0 : 1, sum)(rng);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < group.size(); ++i) {
    running += group[i].weight;
    if (running >= pick) return i;
  }
  return group.size() - 1;  // unreachable: running ends at sum >= pick
}

}  // namespace

std::string_view to_string(ResolveError error) {
  switch (error) {
    case ResolveError::none: return "none";
    case ResolveError::bad_domain: return "bad-domain";
    case ResolveError::nxdomain: return "nxdomain";
    case ResolveError::service_unavailable: return "service-unavailable";
    case ResolveError::no_address: return "no-address";
    case ResolveError::timeout: return "timeout";
    case ResolveError::failure: return "failure";
  }
  return "unknown";
}

std::vector<SrvRecord> order_srv_records(std::vector<SrvRecord> records, std::mt19937_64& rng) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::vector<SrvRecord> ordered;
  ordered.reserve(records.size());
  for (auto begin = records.begin(); begin != records.end();) {
    auto end = std::find_if(begin, records.end(), [&](const SrvRecord& r) {
      return r.priority != begin->priority;
    });
    std::vector<SrvRecord> group(std::make_move_iterator(begin), std::make_move_iterator(end));
    // RFC 2782: "arrange all SRV RRs (that have not been ordered yet) in any order, except
    // that all those with weight 0 are placed at the beginning of the list."
    std::stable_partition(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      std::size_t i = pick_weighted(group, rng);
      ordered.push_back(std::move(group[i]));
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(i));
    }
    begin = end;
  }
  return ordered;
}

SrvPlan plan_from_srv(std::string_view domain, const SrvAnswer& xmpps_server,
                      const SrvAnswer& xmpp_server, std::mt19937_64& rng) {
  SrvPlan plan;
  std::vector<SrvRecord> usable;
  bool not_available = false;  // some answer held only "." targets
  for (const SrvAnswer* answer : {&xmpps_server, &xmpp_server}) {
    if (answer->status != LookupStatus::ok || answer->records.empty()) continue;
    bool any_real = false;
    for (const SrvRecord& r : answer->records) {
      if (is_dot_target(r.target)) continue;
      usable.push_back(r);
      any_real = true;
    }
    if (!any_real) not_available = true;
  }

  if (!usable.empty()) {
    for (SrvRecord& r : order_srv_records(std::move(usable), rng)) {
      plan.candidates.push_back({host_of(r.target), r.port, r.direct_tls});
    }
    plan.reason = fmt::format("{} SRV target{} for {}", plan.candidates.size(),
                              plan.candidates.size() == 1 ? "" : "s", domain);
    return plan;
  }
  if (not_available) {
    plan.error = ResolveError::service_unavailable;
    plan.reason = fmt::format("{} offers no XMPP server service (SRV target \".\")", domain);
    return plan;
  }
  // RFC 6120 §3.2.1 and §3.2.2: no SRV records, or no answer at all, so the domain
  // itself on the default port (the A/AAAA lookup then decides).
  plan.fallback = true;
  plan.candidates.push_back({std::string(domain), kXmppServerPort, false});
  std::string why;
  switch (xmpp_server.status) {
    case LookupStatus::timeout:
      why = fmt::format("the DNS lookup of _xmpp-server._tcp.{} timed out", domain);
      break;
    case LookupStatus::failure:
      why = fmt::format("the DNS lookup of _xmpp-server._tcp.{} failed ({})", domain,
                        xmpp_server.error.empty() ? "unknown error" : xmpp_server.error);
      break;
    default:
      why = fmt::format("no SRV records for {}", domain);
      break;
  }
  plan.reason = fmt::format("{}; trying {}:{}", why, domain, kXmppServerPort);
  return plan;
}

std::optional<Candidate> parse_route(std::string_view target) {
  std::string_view host;
  std::string_view port;
  if (!target.empty() && target.front() == '[') {
    std::size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':')
      return std::nullopt;
    host = target.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // brackets: IPv6 only
    port = target.substr(close + 2);
  } else {
    std::size_t colon = target.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // unbracketed IPv6
  }
  if (host.empty() || std::any_of(host.begin(), host.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '[' || c == ']';
      })) {
    return std::nullopt;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return Candidate{host_of(host), static_cast<std::uint16_t>(value), false};
}

}  // namespace parley::federation
