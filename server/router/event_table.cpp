#include "server/router/event_table.hpp"

#include <algorithm>
#include <functional>

namespace parley::server::router {
namespace {

struct FamilyName {
  std::string_view name;
  Family family;
  bool needs_dest;
};

constexpr FamilyName kFamilies[] = {
    // Before "message", whose names take a destination after the slash.
    {"message/offline", Family::message_offline, false},
    {"message", Family::message, true},           {"presence", Family::presence, true},
    {"iq-get", Family::iq_get, true},             {"iq-set", Family::iq_set, true},
    {"iq-result", Family::iq_result, true},       {"iq-error", Family::iq_error, true},
    {"pre-message", Family::pre_message, true},   {"pre-presence", Family::pre_presence, true},
    {"pre-iq", Family::pre_iq, true},             {"route/remote", Family::route_remote, false},
    {"stanza/out", Family::stanza_out, false},    {"session/bound", Family::session_bound, false},
    {"session/closed", Family::session_closed, false}, {"user/created", Family::user_created, false},
    {"user/deleted", Family::user_deleted, false},
};

std::optional<Dest> parse_dest(std::string_view s) {
  if (s == "host") return Dest::host;
  if (s == "bare") return Dest::bare;
  if (s == "full") return Dest::full;
  if (s == "self") return Dest::self;
  if (s == "preauth") return Dest::preauth;
  return std::nullopt;
}

std::size_t index(Family f, Dest d) {
  return static_cast<std::size_t>(f) * static_cast<std::size_t>(Dest::count_) + static_cast<std::size_t>(d);
}

}  // namespace

std::optional<ParsedEvent> parse_event_name(std::string_view name, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<ParsedEvent> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  for (const auto& f : kFamilies) {
    if (!f.needs_dest) {
      if (name == f.name) return ParsedEvent{f.family, Dest::none, {}, {}};
      continue;
    }
    if (!name.starts_with(f.name) || name.size() <= f.name.size() || name[f.name.size()] != '/') continue;
    std::string_view rest = name.substr(f.name.size() + 1);
    auto slash = rest.find('/');
    auto dest = parse_dest(rest.substr(0, slash));
    if (!dest) return fail("unknown destination in event '" + std::string(name) + "' (host, bare, full, self, preauth)");
    if (*dest == Dest::preauth && f.family != Family::iq_get && f.family != Family::iq_set) {
      return fail("only iq-get and iq-set have preauth events: '" + std::string(name) + "'");
    }
    if (slash == std::string_view::npos) return ParsedEvent{f.family, *dest, {}, {}};
    if (f.family != Family::iq_get && f.family != Family::iq_set) {
      return fail("only iq-get and iq-set events name a payload: '" + std::string(name) + "'");
    }
    std::string_view payload = rest.substr(slash + 1);
    auto colon = payload.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == payload.size()) {
      return fail("payload of '" + std::string(name) + "' must be NAMESPACE:ELEMENT");
    }
    return ParsedEvent{f.family, *dest, std::string(payload.substr(0, colon)),
                       std::string(payload.substr(colon + 1))};
  }
  return fail("unknown event '" + std::string(name) + "'");
}

std::size_t EventTable::Hash::operator()(const PayloadView& k) const {
  std::size_t h = std::hash<std::string_view>{}(k.ns);
  h ^= std::hash<std::string_view>{}(k.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h ^ (static_cast<std::size_t>(k.family) << 8 | static_cast<std::size_t>(k.dest));
}

void EventTable::insert_sorted(HandlerList& list, HandlerEntry entry) {
  auto pos = std::find_if(list.begin(), list.end(),
                          [&](const HandlerEntry& e) { return e.priority < entry.priority; });
  list.insert(pos, std::move(entry));
}

void EventTable::add(const ParsedEvent& e, HandlerEntry entry) {
  if (!e.ns.empty()) {
    insert_sorted(payload_[PayloadKey{e.ns, e.name, e.family, e.dest}], std::move(entry));
  } else {
    insert_sorted(simple_[index(e.family, e.dest)], std::move(entry));
  }
}

void EventTable::remove_owner(const void* owner) {
  auto drop = [owner](HandlerList& list) {
    std::erase_if(list, [owner](const HandlerEntry& e) { return e.owner == owner; });
  };
  for (auto& list : simple_) drop(list);
  for (auto& [key, list] : payload_) drop(list);
  std::erase_if(payload_, [](const auto& kv) { return kv.second.empty(); });
}

const HandlerList* EventTable::find(Family family, Dest dest) const {
  const auto& list = simple_[index(family, dest)];
  return list.empty() ? nullptr : &list;
}

const HandlerList* EventTable::find_iq(Family family, Dest dest, std::string_view ns,
                                       std::string_view name) const {
  auto it = payload_.find(PayloadView{ns, name, family, dest});
  return it == payload_.end() ? nullptr : &it->second;
}

}  // namespace parley::server::router
