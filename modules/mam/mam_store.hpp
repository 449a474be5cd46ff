#pragma once
// The archive's SQL (tables mam_archive and mam_prefs, migrations/0004_mam.sql), as named
// prepared statements. Every function blocks while it talks to PostgreSQL: call them only
// from the storage pool (HostContext::storage().run), or at shutdown. They throw libpqxx
// exceptions, which the caller's Runner::run turns into storage::Error.
//
// No Asio here; the array encoding is unit-tested (tests/unit/modules/mam_rules_test.cpp).

#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "modules/mam/mam_forms.hpp"
#include "storage/database.hpp"

namespace parley::modules::mam {

/// One message waiting to be written.
struct ArchiveRow {
  std::string host;
  std::string user;
  std::int64_t id = 0;
  std::int64_t micros = 0;
  std::string peer;           ///< the other party's bare JID
  std::string peer_resource;  ///< "" when it had none
  bool outgoing = false;
  std::string stanza;         ///< to_stored() of the message
  std::string body;           ///< "" when it has none (stored as NULL)
  /// The message's durability hold (server::Event::durable), released with the row once its
  /// batch is committed or given up: the sender's stream management acknowledges only then.
  std::shared_ptr<void> hold;
  std::size_t bytes() const { return stanza.size() + body.size() + peer.size() + 64; }
};

struct ArchivedMessage {
  std::int64_t id = 0;
  std::int64_t micros = 0;
  std::string stanza;
};

/// One page of results, in archive order.
struct PageResult {
  bool not_found = false;  ///< an id the client named is not in the archive
  std::vector<ArchivedMessage> items;
  bool complete = true;    ///< nothing further in the direction of paging
  std::int64_t count = 0;  ///< RSM <count/>: all matches of the query
  std::int64_t first_index = 0;  ///< RSM <first index=.../>: matches before the first item
};

/// Registers the statements once per database (any number of hosts may run the module).
void prepare_statements(storage::Database& db);

/// A PostgreSQL array literal of text values: {"a","b\"c"}.
std::string text_array(const std::vector<std::string_view>& values);

/// Writes the rows in one transaction with one statement. Rows of accounts that no longer
/// exist, and ids already present, are skipped. Returns the number of rows written.
std::size_t insert_rows(pqxx::connection& c, const std::vector<ArchiveRow>& rows);

/// Runs an archive query (XEP-0313 §4) in one read-only repeatable-read transaction, so the
/// page, its count and the id checks see one snapshot.
PageResult run_query(pqxx::connection& c, const StoreQuery& q);

/// The first and last message of an archive (XEP-0313 archive metadata); empty when it is.
struct ArchiveBounds {
  std::optional<ArchivedMessage> first, last;  ///< stanza left empty
};
ArchiveBounds archive_bounds(pqxx::connection& c, std::string_view host, std::string_view user);

/// An account's stored preferences: nullopt when the account does not exist; a value with
/// `stored` false when it has none (the caller applies the server default).
struct LoadedPrefs {
  bool stored = false;
  Prefs prefs;
};
std::optional<LoadedPrefs> load_prefs(pqxx::connection& c, std::string_view host, std::string_view user);
/// Stores the preferences; false when the account does not exist.
bool save_prefs(pqxx::connection& c, std::string_view host, std::string_view user, const Prefs& prefs);

/// Deletes up to `batch` messages of `host` with ids below `before_id`; returns how many.
std::size_t purge_batch(pqxx::connection& c, std::string_view host, std::int64_t before_id, std::int64_t batch);

/// Whether the roster module's table (roster_items, migrations/0002_roster.sql) is there,
/// for the 'roster' policy. Looked up at run time, so mam does not depend on that module;
/// without it 'roster' acts as 'always'.
bool roster_available(pqxx::connection& c);
/// Whether `peer_bare` is an item (any subscription state) of the roster of host/user.
bool in_roster(pqxx::connection& c, std::string_view host, std::string_view user, std::string_view peer_bare);

}  // namespace parley::modules::mam
