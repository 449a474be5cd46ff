#include "server/net/connection_limiter.hpp"

namespace parley::server::net {

void ConnectionLimiter::Ticket::release() noexcept {
  // Kept alive here, not by this ticket alone: the mutex must outlive its lock.
  std::shared_ptr<State> state = std::move(state_);
  if (!state) return;
  std::lock_guard lock(state->mutex);
  --state->total;
  if (!address_.empty()) {
    auto it = state->by_address.find(address_);
    if (it != state->by_address.end() && --it->second == 0) state->by_address.erase(it);
  }
}

std::optional<ConnectionLimiter::Ticket> ConnectionLimiter::admit(const std::string& address, bool per_address,
                                                                  std::string* why) {
  std::lock_guard lock(state_->mutex);
  if (state_->total >= max_total_) {
    if (why) *why = "the server has " + std::to_string(state_->total) + " connections ([limits] max_connections)";
    return std::nullopt;
  }
  if (per_address) {
    std::size_t& n = state_->by_address[address];
    if (n >= max_per_address_) {
      if (why) *why = "too many connections from " + address + " ([limits] max_connections_per_address)";
      return std::nullopt;
    }
    ++n;
  }
  ++state_->total;
  return Ticket(state_, per_address ? address : std::string());
}

std::size_t ConnectionLimiter::open() const {
  std::lock_guard lock(state_->mutex);
  return state_->total;
}

}  // namespace parley::server::net
