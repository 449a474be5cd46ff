#include "server/login_throttle.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace parley::server {

std::string LoginThrottle::address_key(std::string_view address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec || !a.is_v6() || a.to_v6().is_v4_mapped()) return std::string(address);
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

int LoginThrottle::failures(Table& table, const std::string& key, Clock::time_point now) {
  auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last > options_.forget_after) {
    table.erase(it);
    return 0;
  }
  return it->second.failures;
}

std::chrono::milliseconds LoginThrottle::delay(std::string_view address, std::string_view account,
                                               Clock::time_point now) {
  std::lock_guard lock(mutex_);
  int n = std::max(failures(by_address_, address_key(address), now), failures(by_account_, std::string(account), now));
  if (n <= options_.free_failures) return std::chrono::milliseconds(0);
  int doublings = std::min(n - options_.free_failures - 1, 30);
  auto d = options_.base * (std::int64_t{1} << doublings);
  return std::min(d, options_.max);
}

void LoginThrottle::count(Table& table, const std::string& key, Clock::time_point now) {
  if (table.size() >= options_.max_entries && table.find(key) == table.end()) {
    std::erase_if(table, [&](const auto& kv) { return now - kv.second.last > options_.forget_after; });
    if (table.size() >= options_.max_entries) {
      auto oldest = std::min_element(table.begin(), table.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      table.erase(oldest);
    }
  }
  Entry& e = table[key];
  if (e.failures > 0 && now - e.last > options_.forget_after) e.failures = 0;
  ++e.failures;
  e.last = now;
}

void LoginThrottle::failed(std::string_view address, std::string_view account, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  count(by_address_, address_key(address), now);
  count(by_account_, std::string(account), now);
}

void LoginThrottle::succeeded(std::string_view account) {
  std::lock_guard lock(mutex_);
  by_account_.erase(std::string(account));
}

}  // namespace parley::server
