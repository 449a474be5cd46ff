#pragma once
// The handlers one host has hooked, by event, sorted by priority (highest first; equal
// priorities run in the order they were hooked). Names are parsed once, when hooked; a
// stanza is matched by (family, destination, payload namespace and name) with no string
// built per stanza.
//
// Filled while modules start, then only read: no locking, and no hooking while serving.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/module_api.hpp"

namespace parley::server::router {

/// Which stanzas (or other happenings) an event is about.
enum class Family : std::uint8_t {
  message, presence, iq_get, iq_set, iq_result, iq_error,
  pre_message, pre_presence, pre_iq,
  route_remote, stanza_out, session_bound, session_closed, user_created, user_deleted,
  message_offline,
  count_
};

/// To what kind of address the stanza goes (RFC 6120 §10 and Prosody's router).
enum class Dest : std::uint8_t { none, host, bare, full, self, preauth, count_ };

struct HandlerEntry {
  int priority = 0;
  Handler sync;
  AsyncHandler async;   ///< exactly one of sync/async is set
  const void* owner;    ///< the module that hooked it, so stopping it unhooks everything
};

using HandlerList = std::vector<HandlerEntry>;

struct ParsedEvent {
  Family family;
  Dest dest;
  std::string ns;    ///< iq get/set payload namespace, else empty
  std::string name;  ///< iq get/set payload element name, else empty
};

/// Parses an event name; nullopt (with the reason) for a name the router does not know.
std::optional<ParsedEvent> parse_event_name(std::string_view name, std::string* why = nullptr);

class EventTable {
 public:
  void add(const ParsedEvent& event, HandlerEntry entry);
  /// Removes every handler `owner` added.
  void remove_owner(const void* owner);

  const HandlerList* find(Family family, Dest dest) const;
  /// iq get/set with a payload element.
  const HandlerList* find_iq(Family family, Dest dest, std::string_view ns,
                             std::string_view name) const;

 private:
  struct PayloadKey {
    std::string ns, name;
    Family family;
    Dest dest;
  };
  struct PayloadView {
    std::string_view ns, name;
    Family family;
    Dest dest;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const PayloadView& k) const;
    std::size_t operator()(const PayloadKey& k) const { return (*this)(PayloadView{k.ns, k.name, k.family, k.dest}); }
  };
  struct Equal {
    using is_transparent = void;
    static PayloadView view(const PayloadKey& k) { return {k.ns, k.name, k.family, k.dest}; }
    static const PayloadView& view(const PayloadView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const PayloadView &x = view(a), &y = view(b);
      return x.family == y.family && x.dest == y.dest && x.ns == y.ns && x.name == y.name;
    }
  };
  static void insert_sorted(HandlerList& list, HandlerEntry entry);

  std::array<HandlerList, static_cast<std::size_t>(Family::count_) * static_cast<std::size_t>(Dest::count_)> simple_;
  std::unordered_map<PayloadKey, HandlerList, Hash, Equal> payload_;
};

}  // namespace parley::server::router
