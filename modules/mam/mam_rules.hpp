#pragma once
// Which messages a user archive keeps and how they are marked, without I/O (XEP-0313 §3.5
// and its user-archive storage rules; XEP-0334 hints; XEP-0359 stanza-id), and the text form archived stanzas are
// stored in. Asio-free, unit-tested in tests/unit/modules/mam_rules_test.cpp.
//
// Plain functions; thread-safe. StoredStanzaReader is not (one per thread).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "modules/mam/mam_forms.hpp"
#include "server/stanza.hpp"

namespace parley::server::xml {
class StreamParser;
}

namespace parley::modules::mam {

inline constexpr std::string_view kSidNs = "urn:xmpp:sid:0";
inline constexpr std::string_view kHintsNs = "urn:xmpp:hints";

/// XEP-0313's storage rules for user archives, with XEP-0334: a message of type chat or normal that has a <body/> (or
/// asks to be stored with <store/>), and does not ask not to be with <no-store/> or
/// <no-permanent-store/>. Never groupchat, headline or error.
bool is_archivable(const server::Stanza& message);

/// XEP-0359, Security Considerations: removes every <stanza-id/> whose 'by' is `by` — only the
/// archiving entity may set those. Returns how many were removed.
std::size_t strip_stanza_ids(server::xml::Element& message, std::string_view by);
/// Adds <stanza-id xmlns='urn:xmpp:sid:0' by='...' id='...'/>.
void add_stanza_id(server::xml::Element& message, std::string by, std::string id);

/// The message's <body/> text ("" when it has none), for the archive's text column.
std::string body_text(const server::xml::Element& message);

enum class Decision {
  archive,
  skip,
  /// The policy is 'roster' and the peer is on neither list: archive if the peer is in
  /// the account's roster.
  ask_roster,
};
/// XEP-0441: never-list first, then always-list (a JID on a list matches the peer's full
/// JID or, given bare, any of its resources), else the default policy.
Decision decide(const Prefs& prefs, const server::Jid& peer);

/// The stored form of a message: its XML with the jabber:client namespace (a message that
/// arrived over server-to-server, in jabber:server, is rewritten so results look the same).
std::string to_stored(const server::xml::Element& message);

/// Parses stored messages back; reuses one parser for a whole page.
class StoredStanzaReader {
 public:
  StoredStanzaReader();
  ~StoredStanzaReader();
  /// nullopt for text that is not one well-formed element (the row is then left out).
  std::optional<server::xml::Element> read(std::string_view xml);

 private:
  class Sink;
  void reset();
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<server::xml::StreamParser> parser_;
};

}  // namespace parley::modules::mam
