#pragma once
// Archive ids (XEP-0313 business rules on IDs, XEP-0359 stanza-id): unique per archive, never reused, sortable
// in archive order, and not a counter a contact could read message counts from.
//
// An id is a positive 63-bit integer (a PostgreSQL bigint): the upper 47 bits are the
// archive time in milliseconds since the Unix epoch, the lower 16 bits a sequence that
// starts at a random point in each millisecond and advances by a random step. Clients see it
// as 13 characters of Crockford base32 (lower case, fixed width, so the strings sort like
// the numbers); they must treat it as opaque.
//
// An archived message's timestamp is the millisecond in its id (archive_micros): one source
// of truth, so 'start' and 'end' filters become id bounds exactly (mam_forms.hpp,
// to_store_query) and ids and timestamps can never disagree on the order.

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace parley::modules::mam {

inline constexpr int kSequenceBits = 16;

/// The smallest id of the millisecond `ms` (ids of that millisecond are >= this and
/// < first_id_of_ms(ms + 1)).
constexpr std::int64_t first_id_of_ms(std::int64_t ms) { return ms << kSequenceBits; }
/// The millisecond an id was issued in.
constexpr std::int64_t ms_of_id(std::int64_t id) { return id >> kSequenceBits; }

/// The opaque text form: 13 characters of Crockford base32, lower case.
std::string encode_id(std::int64_t id);
/// The inverse of encode_id; nullopt for anything encode_id cannot produce.
std::optional<std::int64_t> decode_id(std::string_view text);

/// The archive timestamp of an id, in microseconds since the Unix epoch (whole milliseconds).
constexpr std::int64_t archive_micros(std::int64_t id) { return ms_of_id(id) * 1000; }

/// Hands out strictly increasing ids, even when the clock steps back (the ids then keep the
/// last millisecond until the clock catches up). Thread-safe.
class IdGenerator {
 public:
  IdGenerator();
  /// For tests: a fixed seed.
  explicit IdGenerator(std::uint64_t seed) : random_(seed) {}

  /// The next id for a message archived at `now_micros` (the wall clock).
  std::int64_t next(std::int64_t now_micros);
  /// The same with the system clock.
  std::int64_t next();

 private:
  std::mutex mutex_;
  std::mt19937_64 random_;
  std::int64_t last_id_ = 0;
};

}  // namespace parley::modules::mam
