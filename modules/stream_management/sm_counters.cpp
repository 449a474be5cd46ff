#include "modules/stream_management/sm_counters.hpp"

#include <charconv>
#include <utility>

namespace parley::modules::stream_management {

std::uint64_t Inbound::receive() {
  done_.push_back(false);
  ++received_;  // modulo 2^32
  return ++tickets_;
}

void Inbound::complete(std::uint64_t ticket) {
  if (ticket < first_ || ticket - first_ >= done_.size()) return;  // forgotten, unknown or counted
  done_[ticket - first_] = true;
  while (!done_.empty() && done_.front()) {
    done_.pop_front();
    ++first_;
    ++handled_;
  }
}

void Inbound::rewind() {
  done_.clear();
  first_ = tickets_ + 1;
  received_ = handled_;
}

bool Unacked::ack(std::uint32_t h) {
  std::uint32_t n = h - acked_;  // modulo 2^32
  if (n > items_.size()) return false;
  items_.erase(items_.begin(), items_.begin() + n);
  acked_ = h;
  return true;
}

std::optional<std::uint32_t> parse_h(std::string_view text) {
  std::uint32_t value = 0;
  if (text.empty() || text.size() > 10) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool goes_offline(const server::Stanza& st) {
  if (st.kind != server::StanzaKind::message) return false;
  if (!st.type.empty() && st.type != "chat" && st.type != "normal") return false;
  return st.element.find_child("body", st.element.ns()) != nullptr;
}

}  // namespace parley::modules::stream_management
