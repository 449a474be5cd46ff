// The archive's SQL. Queries always lead with (server_host, username) and walk an index in
// id order; time bounds arrive as id bounds (mam_forms.cpp, to_store_query), so no
// timestamp index is needed — README.md shows the plans.
#include "modules/mam/mam_store.hpp"

#include "modules/mam/mam_ids.hpp"

#include <algorithm>
#include <mutex>
#include <set>

namespace parley::modules::mam {
namespace {

// $1 host, $2 user, $3 after (id >), $4 before (id <). Time filters arrive as id bounds.
constexpr const char* kRange = "server_host = $1 AND username = $2 AND id > $3 AND id < $4";
// $5 peer bare JID, $6 its resource or ''.
constexpr const char* kWith = " AND peer = $5 AND ($6 = '' OR peer_resource = $6)";
// The timestamp is the id's millisecond (mam_ids.hpp); created_at holds the same for people.
constexpr const char* kColumns = "SELECT id, stanza FROM mam_archive WHERE ";

std::string int_array(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string joined(const std::vector<std::string>& jids) {
  std::string out;
  for (const auto& j : jids) {
    if (!out.empty()) out += '\n';
    out += j;  // prepared JIDs hold no control characters (RFC 7622, PRECIS)
  }
  return out;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<ArchivedMessage> read_page(const pqxx::result& r) {
  std::vector<ArchivedMessage> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    auto id = row[0].as<std::int64_t>();
    out.push_back({id, archive_micros(id), row[1].as<std::string>()});
  }
  return out;
}

}  // namespace

void prepare_statements(storage::Database& db) {
  static std::mutex mutex;
  static std::set<storage::Database*> done;
  std::lock_guard lock(mutex);
  if (!done.insert(&db).second) return;
  const std::string range = kRange;
  const std::string with = range + kWith;
  // Writes: the whole batch as arrays, one row each; rows of deleted accounts are left out
  // rather than failing the batch on the foreign key.
  db.prepare("mam.insert",
             "INSERT INTO mam_archive (server_host, username, id, created_at, peer, peer_resource, direction, stanza, body) "
             "SELECT r.h, r.u, r.id, timestamptz 'epoch' + r.us * interval '1 microsecond', r.peer, r.res, "
             "       CASE WHEN r.dir = 'o' THEN 'out' ELSE 'in' END, r.stanza, NULLIF(r.body, '') "
             "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], "
             "            $8::text[], $9::text[]) AS r(h, u, id, us, peer, res, dir, stanza, body) "
             "WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.server_host = r.h AND a.username = r.u) "
             "ON CONFLICT DO NOTHING");
  // Pages: forwards from the start of the range (with an RSM index as offset), or backwards
  // from its end.
  db.prepare("mam.page_asc", kColumns + range + " ORDER BY id LIMIT $5 OFFSET $6");
  db.prepare("mam.page_desc", kColumns + range + " ORDER BY id DESC LIMIT $5");
  db.prepare("mam.with_page_asc", kColumns + with + " ORDER BY id LIMIT $7 OFFSET $8");
  db.prepare("mam.with_page_desc", kColumns + with + " ORDER BY id DESC LIMIT $7");
  // RSM count, and the first item's index: how many matches precede id $N.
  db.prepare("mam.count", "SELECT count(*), count(*) FILTER (WHERE id < $5) FROM mam_archive WHERE " + range);
  db.prepare("mam.with_count", "SELECT count(*), count(*) FILTER (WHERE id < $7) FROM mam_archive WHERE " + with);
  // 'ids': the listed messages that also match the other filters; $5/$6 may be ''.
  const std::string ids = range + " AND ($5 = '' OR peer = $5) AND ($6 = '' OR peer_resource = $6) AND id = ANY($7::bigint[])";
  db.prepare("mam.ids_page", kColumns + ids + " ORDER BY id LIMIT $8");
  db.prepare("mam.ids_count", "SELECT count(*), count(*) FILTER (WHERE id < $8) FROM mam_archive WHERE " + ids);
  db.prepare("mam.existing",
             "SELECT count(*) FROM mam_archive WHERE server_host = $1 AND username = $2 AND id = ANY($3::bigint[])");
  db.prepare("mam.first", "SELECT id FROM mam_archive WHERE server_host = $1 AND username = $2 ORDER BY id LIMIT 1");
  db.prepare("mam.last", "SELECT id FROM mam_archive WHERE server_host = $1 AND username = $2 ORDER BY id DESC LIMIT 1");
  db.prepare("mam.prefs_get",
             "SELECT p.username IS NOT NULL, p.policy, array_to_string(p.always_jids, E'\\n'), "
             "       array_to_string(p.never_jids, E'\\n') "
             "FROM accounts a LEFT JOIN mam_prefs p ON p.server_host = a.server_host AND p.username = a.username "
             "WHERE a.server_host = $1 AND a.username = $2");
  db.prepare("mam.prefs_set",
             "INSERT INTO mam_prefs (server_host, username, policy, always_jids, never_jids) "
             "SELECT a.server_host, a.username, $3, string_to_array($4, E'\\n'), string_to_array($5, E'\\n') "
             "FROM accounts a WHERE a.server_host = $1 AND a.username = $2 "
             "ON CONFLICT (server_host, username) DO UPDATE "
             "SET policy = EXCLUDED.policy, always_jids = EXCLUDED.always_jids, never_jids = EXCLUDED.never_jids, "
             "    updated_at = now()");
  // Retention: the oldest rows of a host, a bounded batch at a time (index mam_archive_host_id).
  db.prepare("mam.purge",
             "DELETE FROM mam_archive WHERE ctid = ANY (ARRAY("
             "SELECT ctid FROM mam_archive WHERE server_host = $1 AND id < $2 ORDER BY id LIMIT $3))");
  // The roster module's table (migrations/0002_roster.sql), looked up at run time: mam does
  // not depend on that module, which may be disabled or absent.
  db.prepare("mam.roster_table",
             "SELECT count(*) = 3 FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND table_name = 'roster_items' "
             "  AND column_name IN ('server_host', 'username', 'contact_jid')");
}

std::string text_array(const std::vector<std::string_view>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::size_t insert_rows(pqxx::connection& c, const std::vector<ArchiveRow>& rows) {
  std::vector<std::string_view> hosts, users, peers, resources, dirs, stanzas, bodies;
  std::vector<std::int64_t> ids, micros;
  for (const auto& r : rows) {
    hosts.push_back(r.host);
    users.push_back(r.user);
    ids.push_back(r.id);
    micros.push_back(r.micros);
    peers.push_back(r.peer);
    resources.push_back(r.peer_resource);
    dirs.push_back(r.outgoing ? "o" : "i");
    stanzas.push_back(r.stanza);
    bodies.push_back(r.body);
  }
  pqxx::work tx{c};
  auto result = tx.exec_prepared("mam.insert", text_array(hosts), text_array(users), int_array(ids), int_array(micros),
                                 text_array(peers), text_array(resources), text_array(dirs), text_array(stanzas),
                                 text_array(bodies));
  tx.commit();
  return static_cast<std::size_t>(result.affected_rows());
}

PageResult run_query(pqxx::connection& c, const StoreQuery& q) {
  PageResult out;
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx{c};
  // Plans for the values at hand, never the generic plan PostgreSQL switches a prepared
  // statement to after five runs: that one cannot tell an empty 'with' or resource from a
  // given one, and walks a whole archive for 'ids' (0.1 ms become 600 ms on 300,000 rows,
  // README.md). Planning costs a fraction of a millisecond; queries are rare next to writes.
  tx.exec0("SET LOCAL plan_cache_mode = force_custom_plan");
  if (!q.must_exist.empty()) {
    auto found = tx.exec_prepared1("mam.existing", q.host, q.user, int_array(q.must_exist))[0].as<std::int64_t>();
    if (found != static_cast<std::int64_t>(q.must_exist.size())) {
      out.not_found = true;
      return out;
    }
  }
  const bool with = !q.with_bare.empty();
  // One row more than the page tells whether the page is the last one in its direction.
  const std::int64_t fetch = q.limit + 1;
  // The page: the result set narrowed by the RSM cursor.
  const std::int64_t lo = std::max(q.after, q.page_after), hi = std::min(q.before, q.page_before);
  if (q.limit > 0) {
    pqxx::result r;
    if (q.by_ids) {
      r = tx.exec_prepared("mam.ids_page", q.host, q.user, lo, hi, q.with_bare, q.with_resource, int_array(q.ids), fetch);
    } else if (with && q.backward) {
      r = tx.exec_prepared("mam.with_page_desc", q.host, q.user, lo, hi, q.with_bare, q.with_resource, fetch);
    } else if (with) {
      r = tx.exec_prepared("mam.with_page_asc", q.host, q.user, lo, hi, q.with_bare, q.with_resource, fetch, q.offset);
    } else if (q.backward) {
      r = tx.exec_prepared("mam.page_desc", q.host, q.user, lo, hi, fetch);
    } else {
      r = tx.exec_prepared("mam.page_asc", q.host, q.user, lo, hi, fetch, q.offset);
    }
    out.items = read_page(r);
    out.complete = static_cast<std::int64_t>(out.items.size()) <= q.limit;
    if (!out.complete) out.items.pop_back();
    if (q.backward && !q.by_ids) std::reverse(out.items.begin(), out.items.end());
  }
  // RSM <count/> over the whole result set, and the first item's position in it.
  const std::int64_t first = out.items.empty() ? 0 : out.items.front().id;
  pqxx::result n;
  if (q.by_ids) {
    n = tx.exec_prepared("mam.ids_count", q.host, q.user, q.after, q.before, q.with_bare, q.with_resource,
                         int_array(q.ids), first);
  } else if (with) {
    n = tx.exec_prepared("mam.with_count", q.host, q.user, q.after, q.before, q.with_bare, q.with_resource, first);
  } else {
    n = tx.exec_prepared("mam.count", q.host, q.user, q.after, q.before, first);
  }
  out.count = n[0][0].as<std::int64_t>();
  out.first_index = n[0][1].as<std::int64_t>();
  if (q.limit == 0) out.complete = out.count == 0;
  tx.commit();
  return out;
}

ArchiveBounds archive_bounds(pqxx::connection& c, std::string_view host, std::string_view user) {
  ArchiveBounds out;
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx{c};
  for (const char* which : {"mam.first", "mam.last"}) {
    auto r = tx.exec_prepared(which, std::string(host), std::string(user));
    if (r.empty()) break;
    auto id = r[0][0].as<std::int64_t>();
    ArchivedMessage m{id, archive_micros(id), {}};
    (which[4] == 'f' ? out.first : out.last) = std::move(m);
  }
  tx.commit();
  return out;
}

std::optional<LoadedPrefs> load_prefs(pqxx::connection& c, std::string_view host, std::string_view user) {
  pqxx::read_transaction tx{c};
  auto r = tx.exec_prepared("mam.prefs_get", std::string(host), std::string(user));
  if (r.empty()) return std::nullopt;
  LoadedPrefs out;
  out.stored = r[0][0].as<bool>();
  if (out.stored) {
    out.prefs.policy = parse_policy(r[0][1].as<std::string>()).value_or(Policy::always);
    out.prefs.always = split(r[0][2].as<std::string>());
    out.prefs.never = split(r[0][3].as<std::string>());
    std::sort(out.prefs.always.begin(), out.prefs.always.end());
    std::sort(out.prefs.never.begin(), out.prefs.never.end());
  }
  return out;
}

bool save_prefs(pqxx::connection& c, std::string_view host, std::string_view user, const Prefs& prefs) {
  pqxx::work tx{c};
  auto r = tx.exec_prepared("mam.prefs_set", std::string(host), std::string(user), std::string(to_string(prefs.policy)),
                            joined(prefs.always), joined(prefs.never));
  tx.commit();
  return r.affected_rows() == 1;
}

std::size_t purge_batch(pqxx::connection& c, std::string_view host, std::int64_t before_id, std::int64_t batch) {
  pqxx::work tx{c};
  auto r = tx.exec_prepared("mam.purge", std::string(host), before_id, batch);
  tx.commit();
  return static_cast<std::size_t>(r.affected_rows());
}

bool roster_available(pqxx::connection& c) {
  pqxx::read_transaction tx{c};
  return tx.exec_prepared1("mam.roster_table")[0].as<bool>();
}

bool in_roster(pqxx::connection& c, std::string_view host, std::string_view user, std::string_view peer_bare) {
  pqxx::read_transaction tx{c};
  // Not prepared: the table may not exist when the statements are registered.
  auto r = tx.exec_params(
      "SELECT 1 FROM roster_items WHERE server_host = $1 AND username = $2 AND contact_jid = $3",
      std::string(host), std::string(user), std::string(peer_bare));
  return !r.empty();
}

}  // namespace parley::modules::mam
