#pragma once
// The protocol surface of XEP-0313 (Message Archive Management), without I/O: the query
// form (XEP-0004 data form, FORM_TYPE urn:xmpp:mam:2) with its Result Set Management part
// (XEP-0059), XEP-0082 date-times, the form a client discovers, and the archiving
// preferences element (XEP-0441, namespace urn:xmpp:mam:2). Asio-free, so it is unit-tested
// on its own (tests/unit/modules/mam_forms_test.cpp).
//
// Plain functions and values; thread-safe.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/jid.hpp"
#include "server/xml/element.hpp"

namespace parley::modules::mam {

inline constexpr std::string_view kMamNs = "urn:xmpp:mam:2";
inline constexpr std::string_view kMamExtended = "urn:xmpp:mam:2#extended";
inline constexpr std::string_view kRsmNs = "http://jabber.org/protocol/rsm";
inline constexpr std::string_view kDataNs = "jabber:x:data";
inline constexpr std::string_view kValidateNs = "http://jabber.org/protocol/xdata-validate";
inline constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";
inline constexpr std::string_view kDelayNs = "urn:xmpp:delay";

/// XEP-0082 DateTime, "CCYY-MM-DDThh:mm:ss[.sss]TZD" with TZD "Z" or "+hh:mm"/"-hh:mm", as
/// microseconds since the Unix epoch (fractions beyond microseconds are cut off). nullopt
/// for anything else, or a date that does not exist.
std::optional<std::int64_t> parse_datetime(std::string_view text);
/// UTC, with microseconds when there are any: "2024-05-01T10:00:00Z", "...:00.000250Z".
std::string format_datetime(std::int64_t micros);

/// Why a request is refused: an RFC 6120 §8.3.3 condition and a short English text.
struct FormError {
  std::string_view condition;  ///< "bad-request", "feature-not-implemented", "item-not-found", ...
  std::string text;
};

/// A <query xmlns='urn:xmpp:mam:2'/> as the client sent it.
struct QueryRequest {
  std::string queryid;
  // Form fields (XEP-0313 §4.1).
  std::optional<server::Jid> with;
  std::optional<std::int64_t> start;  ///< microseconds
  std::optional<std::int64_t> end;
  std::optional<std::string> after_id;
  std::optional<std::string> before_id;
  std::optional<std::vector<std::string>> ids;
  bool flip_page = false;  ///< XEP-0313 §4.3.4: send the page newest first
  // RSM (XEP-0059).
  std::optional<std::int64_t> max;
  std::optional<std::string> after;
  std::optional<std::string> before;  ///< "" (an empty <before/>): the last page
  std::optional<std::int64_t> index;
};

/// Parses the query; bad-request for a malformed form, RSM set or date, feature-not-implemented
/// for a form field this server does not know (XEP-0313 §4.1.5) or a 'node' (pubsub archives).
std::variant<QueryRequest, FormError> parse_query(const server::xml::Element& query);

/// A query ready for the store: ids decoded, time bounds turned into id bounds (an id
/// carries its message's timestamp, mam_ids.hpp), the page size capped.
struct StoreQuery {
  std::string host;           ///< the archive: server_host and username
  std::string user;
  std::string with_bare;      ///< "" = any peer
  std::string with_resource;  ///< "" = any resource of with_bare
  // The result set (what RSM counts): ids > after and < before, from the form's start,
  // end, after-id and before-id.
  std::int64_t after = 0;
  std::int64_t before = std::numeric_limits<std::int64_t>::max();
  // The page within it (RSM <after/> and <before/>): ids > page_after and < page_before.
  std::int64_t page_after = 0;
  std::int64_t page_before = std::numeric_limits<std::int64_t>::max();
  bool by_ids = false;
  std::vector<std::int64_t> ids;         ///< with by_ids: only these
  std::vector<std::int64_t> must_exist;  ///< ids the client named: item-not-found unless archived
  std::int64_t limit = 0;                ///< page size; 0 = only count
  std::int64_t offset = 0;               ///< RSM <index/>
  bool backward = false;                 ///< RSM <before/>: the page at the end of the range
};

/// Resolves a request against the archive of host/user with the server's page cap:
/// item-not-found for an id that cannot be one of ours (XEP-0313 §4.1.3, §4.3.2),
/// bad-request for <index/> together with <after/> or <before/>, policy-violation for more
/// 'ids' than a page holds.
std::variant<StoreQuery, FormError> to_store_query(const QueryRequest& request, std::string host,
                                                   std::string user, std::int64_t max_page);

/// The form a client gets for <iq type='get'><query xmlns='urn:xmpp:mam:2'/></iq>
/// (XEP-0313 §4.1.5): a <query/> holding the data form with every field supported.
server::xml::Element query_form();

// ---- Preferences (XEP-0441) --------------------------------------------------------

/// Which messages are archived for JIDs on neither list.
enum class Policy { always, never, roster };
std::optional<Policy> parse_policy(std::string_view text);
std::string_view to_string(Policy policy);

struct Prefs {
  Policy policy = Policy::always;
  std::vector<std::string> always;  ///< JIDs (prepared, bare or full), sorted, unique
  std::vector<std::string> never;
  bool operator==(const Prefs&) const = default;
};

/// At most this many JIDs on each list.
inline constexpr std::size_t kMaxPrefsJids = 1000;

/// Parses <prefs default='...'><always><jid/>...</always><never>...</never></prefs>:
/// bad-request for a missing or unknown 'default' or a malformed JID, policy-violation for
/// more than kMaxPrefsJids on a list.
std::variant<Prefs, FormError> parse_prefs(const server::xml::Element& prefs);
/// The <prefs/> element for a result.
server::xml::Element prefs_element(const Prefs& prefs);

}  // namespace parley::modules::mam
