#include "modules/signin_notice/signin_rules.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace parley::modules::signin_notice {

std::string network_of(std::string_view address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return {};
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    b[3] = 0;
    return boost::asio::ip::address_v4(b).to_string() + "/24";
  }
  auto b = a.to_v6().to_bytes();
  std::fill(b.begin() + 6, b.end(), 0);
  return boost::asio::ip::address_v6(b).to_string() + "/48";
}

bool deserves_notice(const std::vector<EarlierSignin>& earlier, std::string_view resource, std::string_view address) {
  if (earlier.empty()) return false;
  std::string network = network_of(address);
  for (const auto& e : earlier) {
    if (e.resource == resource) return false;
    if (!network.empty() && network_of(e.address) == network) return false;
  }
  return true;
}

std::string notice_text(std::string_view resource, std::string_view address, std::string_view when_utc) {
  return "New sign-in to your account: client '" + std::string(resource) + "' from " + std::string(address) +
         " at " + std::string(when_utc) +
         " (UTC). Neither was seen lately. If this was not you, change your password now.";
}

}  // namespace parley::modules::signin_notice
