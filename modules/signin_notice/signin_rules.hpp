#pragma once
// When a sign-in deserves a notice (the signin_notice module), without Asio or a database:
// pure functions, unit-tested.

#include <string>
#include <string_view>
#include <vector>

namespace parley::modules::signin_notice {

/// The network an address belongs to, for "a network not seen lately": IPv4 by its /24,
/// IPv6 by its /48 (a typical site); "" for something that is not an address.
std::string network_of(std::string_view address);

struct EarlierSignin {
  std::string resource;
  std::string address;
};

/// True when the account has signed in before (within the window) and never from this
/// client (resource) nor from this network: a new client on a new network, or the account's
/// first contact with both, is worth telling the user about. No history: no notice (the
/// first sign-in of a new account).
bool deserves_notice(const std::vector<EarlierSignin>& earlier, std::string_view resource, std::string_view address);

/// The message body, in English. Names the client, the address and the time (UTC).
std::string notice_text(std::string_view resource, std::string_view address, std::string_view when_utc);

}  // namespace parley::modules::signin_notice
