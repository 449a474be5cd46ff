// Archive ids: time-ordered, with random low bits (see mam_ids.hpp for the layout).
#include "modules/mam/mam_ids.hpp"

#include <algorithm>
#include <chrono>

namespace parley::modules::mam {
namespace {

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford
constexpr std::size_t kIdChars = 13;                                        // 65 bits >= 63
// Where each millisecond's sequence starts (random in [0, kStartSpread)) and how far it
// advances per id (random in [1, kMaxStep]): enough randomness that neighbouring ids do not
// tell how many messages lie between them, while 65536 / kMaxStep ids still fit in one
// millisecond before the sequence borrows from the next one.
constexpr std::int64_t kStartSpread = 1 << 14;
constexpr std::int64_t kMaxStep = 64;

}  // namespace

std::string encode_id(std::int64_t id) {
  std::string out(kIdChars, '0');
  auto v = static_cast<std::uint64_t>(id);
  for (std::size_t i = kIdChars; i-- > 0;) {
    out[i] = kAlphabet[v & 31u];
    v >>= 5;
  }
  return out;
}

std::optional<std::int64_t> decode_id(std::string_view text) {
  if (text.size() != kIdChars) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto pos = kAlphabet.find(text[i]);
    if (pos == std::string_view::npos) return std::nullopt;
    // 13 characters carry 65 bits; a positive int64 has 63, so the first is at most 7.
    if (i == 0 && pos > 7) return std::nullopt;
    v = (v << 5) | pos;
  }
  if (v == 0) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

IdGenerator::IdGenerator() : random_(std::random_device{}()) {
  // Two draws: random_device gives 32 bits per call.
  random_.seed((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
}

std::int64_t IdGenerator::next(std::int64_t now_micros) {
  std::lock_guard lock(mutex_);
  std::int64_t fresh = first_id_of_ms(now_micros / 1000) + static_cast<std::int64_t>(random_() % kStartSpread);
  std::int64_t step = 1 + static_cast<std::int64_t>(random_() % kMaxStep);
  last_id_ = std::max(fresh, last_id_ + step);
  return last_id_;
}

std::int64_t IdGenerator::next() {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return next(now.count());
}

}  // namespace parley::modules::mam
