#include "contrib/bench/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

namespace parley::bench {

Json& Json::operator[](const std::string& key) {
  auto& o = std::get<Object>(v_);
  for (auto& [k, v] : o) {
    if (k == key) return v;
  }
  o.emplace_back(key, Json());
  return o.back().second;
}

void Json::push(Json v) { std::get<Array>(v_).push_back(std::move(v)); }

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

namespace {

void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

void Json::dump_to(std::string& out) const {
  if (std::holds_alternative<std::nullptr_t>(v_)) {
    out += "null";
  } else if (auto* b = std::get_if<bool>(&v_)) {
    out += *b ? "true" : "false";
  } else if (auto* n = std::get_if<std::int64_t>(&v_)) {
    out += std::to_string(*n);
  } else if (auto* d = std::get_if<double>(&v_)) {
    if (!std::isfinite(*d)) {
      out += "null";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6g", *d);
      out += buf;
    }
  } else if (auto* s = std::get_if<std::string>(&v_)) {
    dump_string(out, *s);
  } else if (auto* o = std::get_if<Object>(&v_)) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : *o) {
      if (!first) out += ',';
      first = false;
      dump_string(out, k);
      out += ':';
      v.dump_to(out);
    }
    out += '}';
  } else {
    out += '[';
    bool first = true;
    for (const auto& v : std::get<Array>(v_)) {
      if (!first) out += ',';
      first = false;
      v.dump_to(out);
    }
    out += ']';
  }
}

void Latencies::add(double ms) {
  std::lock_guard lock(mu_);
  samples_.push_back(ms);
  sorted_ = false;
}

std::size_t Latencies::count() const {
  std::lock_guard lock(mu_);
  return samples_.size();
}

std::optional<double> Latencies::quantile(double q) const {
  std::lock_guard lock(mu_);
  if (samples_.empty()) return std::nullopt;
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples_.size())));
  return samples_[std::clamp<std::size_t>(rank, 1, samples_.size()) - 1];
}

Json Latencies::summary() const {
  Json j = Json::object();
  std::size_t n = count();
  j["count"] = n;
  if (n == 0) {
    for (const char* k : {"mean", "p50", "p90", "p99", "max"}) j[k] = nullptr;
    return j;
  }
  double sum = 0;
  {
    std::lock_guard lock(mu_);
    sum = std::accumulate(samples_.begin(), samples_.end(), 0.0);
  }
  j["mean"] = round_to(sum / static_cast<double>(n), 3);
  j["p50"] = round_to(*quantile(0.50), 3);
  j["p90"] = round_to(*quantile(0.90), 3);
  j["p99"] = round_to(*quantile(0.99), 3);
  j["max"] = round_to(*quantile(1.0), 3);
  return j;
}

void Reasons::add(const std::string& reason) {
  std::lock_guard lock(mu_);
  ++counts_[reason];
}

std::uint64_t Reasons::total() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (const auto& [k, v] : counts_) n += v;
  return n;
}

Json Reasons::summary() const {
  std::lock_guard lock(mu_);
  Json j = Json::object();
  for (const auto& [k, v] : counts_) j[k] = v;
  return j;
}

std::string Reasons::top() const {
  std::lock_guard lock(mu_);
  std::string best;
  std::uint64_t n = 0;
  for (const auto& [k, v] : counts_) {
    if (v > n) {
      n = v;
      best = k;
    }
  }
  return best;
}

std::optional<std::uint64_t> process_rss(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) {
      std::istringstream s(line.substr(6));
      std::uint64_t kb = 0;
      if (s >> kb) return kb * 1024;
    }
  }
  return std::nullopt;
}

double round_to(double v, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

std::string format1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string format_ms(const Latencies& l, double q) {
  auto v = l.quantile(q);
  return v ? format1(*v) + " ms" : std::string("-");
}

double per_second(std::uint64_t n, Clock::duration d) {
  double s = std::chrono::duration<double>(d).count();
  return s > 0 ? round_to(static_cast<double>(n) / s, 1) : 0.0;
}

}  // namespace parley::bench
