// Caps on open connections (server/net/connection_limiter.hpp).
#include "server/net/connection_limiter.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace parley::server::net {
namespace {

TEST(ConnectionLimiter, CapsPerAddressAndInTotalAndReleasesWithTheTicket) {
  ConnectionLimiter limiter(3, 2);
  std::string why;
  std::vector<ConnectionLimiter::Ticket> held;
  held.push_back(*limiter.admit("192.0.2.1", true, &why));
  held.push_back(*limiter.admit("192.0.2.1", true, &why));
  EXPECT_FALSE(limiter.admit("192.0.2.1", true, &why));
  EXPECT_NE(why.find("192.0.2.1"), std::string::npos);
  held.push_back(*limiter.admit("192.0.2.2", true, &why));
  EXPECT_FALSE(limiter.admit("192.0.2.3", false, &why)) << "the total applies to servers too";
  EXPECT_NE(why.find("max_connections"), std::string::npos);
  EXPECT_EQ(limiter.open(), 3u);
  held.erase(held.begin());
  EXPECT_EQ(limiter.open(), 2u);
  EXPECT_TRUE(limiter.admit("192.0.2.1", true, &why)) << "a place came free";
}

TEST(ConnectionLimiter, ATicketOutlivesItsLimiter) {
  std::optional<ConnectionLimiter::Ticket> ticket;
  {
    ConnectionLimiter limiter(1, 1);
    ticket.emplace(*limiter.admit("192.0.2.1", true, nullptr));
  }
  ticket.reset();  // no crash: the counts are shared
  SUCCEED();
}

}  // namespace
}  // namespace parley::server::net
