#pragma once
// What parley-bench measures and how it reports it: latency samples with percentiles,
// counters shared by the client threads, a small JSON value for the summary, and the
// server's resident memory from /proc. No Asio.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace parley::bench {

using Clock = std::chrono::steady_clock;

/// Nanoseconds on the steady clock, as written into message bodies (same process on both
/// ends, so no clock skew).
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

/// A JSON value, objects keep insertion order. Enough for the summary; not a parser.
class Json {
 public:
  using Object = std::vector<std::pair<std::string, Json>>;
  using Array = std::vector<Json>;

  Json() : v_(nullptr) {}
  Json(std::nullptr_t) : v_(nullptr) {}
  Json(bool b) : v_(b) {}
  Json(int n) : v_(static_cast<std::int64_t>(n)) {}
  Json(long n) : v_(static_cast<std::int64_t>(n)) {}
  Json(long long n) : v_(static_cast<std::int64_t>(n)) {}
  Json(unsigned n) : v_(static_cast<std::int64_t>(n)) {}
  Json(unsigned long n) : v_(static_cast<std::int64_t>(n)) {}
  Json(unsigned long long n) : v_(static_cast<std::int64_t>(n)) {}
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Object o) : v_(std::move(o)) {}
  Json(Array a) : v_(std::move(a)) {}

  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  /// Object member: replaced if present, else appended. Precondition: this is an object.
  Json& operator[](const std::string& key);
  /// Appends to an array. Precondition: this is an array.
  void push(Json v);

  std::string dump() const;

 private:
  void dump_to(std::string& out) const;
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Object, Array> v_;
};

/// Latency samples in milliseconds. Thread-safe (a mutex; one lock per sample).
class Latencies {
 public:
  void add(double ms);
  void add_since(Clock::time_point start) {
    add(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::size_t count() const;
  /// {"count", "mean", "p50", "p90", "p99", "max"} in ms; nulls when empty.
  Json summary() const;
  /// The q-quantile (0..1), nullopt when empty.
  std::optional<double> quantile(double q) const;

 private:
  mutable std::mutex mu_;
  mutable std::vector<double> samples_;
  mutable bool sorted_ = true;
};

/// Failure reasons and how often each happened. Thread-safe.
class Reasons {
 public:
  void add(const std::string& reason);
  std::uint64_t total() const;
  Json summary() const;
  /// The most frequent reason, "" if none.
  std::string top() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> counts_;
};

using Counter = std::atomic<std::uint64_t>;

/// The resident set (VmRSS) of a process in bytes, from /proc/PID/status; nullopt if unreadable.
std::optional<std::uint64_t> process_rss(int pid);

/// Rounds to `digits` decimals, for readable JSON.
double round_to(double v, int digits = 2);

/// "12.3": one decimal, for summary lines.
std::string format1(double v);
/// "12.3 ms", the q-quantile of `l`, or "-" when it has no sample.
std::string format_ms(const Latencies& l, double q);

/// Events per second over an interval; 0 when the interval is empty.
double per_second(std::uint64_t n, Clock::duration d);

}  // namespace parley::bench
