// XEP-0191 §6 JID matching and the exemptions of the blocking module.
#include "modules/blocking/blocklist.hpp"

#include <gtest/gtest.h>

namespace parley::modules::blocking {
namespace {

using server::Jid;

Jid jid(const char* text) {
  auto j = Jid::parse(text);
  EXPECT_TRUE(j.has_value()) << text;
  return *j;
}

TEST(BlockingMatch, FullJidBlocksOnlyThatResource) {
  BlockList list({"romeo@montague.net/orchard"});
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net/orchard")));
  EXPECT_FALSE(list.blocks(jid("romeo@montague.net/balcony")));
  EXPECT_FALSE(list.blocks(jid("romeo@montague.net")));
  EXPECT_FALSE(list.blocks(jid("montague.net")));
}

TEST(BlockingMatch, BareJidBlocksEveryResource) {
  BlockList list({"romeo@montague.net"});
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net")));
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net/orchard")));
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net/any/thing@x")));
  EXPECT_FALSE(list.blocks(jid("benvolio@montague.net")));
  EXPECT_FALSE(list.blocks(jid("montague.net")));
  EXPECT_FALSE(list.blocks(jid("romeo@capulet.com")));
}

TEST(BlockingMatch, DomainWithResourceBlocksOnlyThatResource) {
  BlockList list({"montague.net/bot"});
  EXPECT_TRUE(list.blocks(jid("montague.net/bot")));
  EXPECT_FALSE(list.blocks(jid("montague.net")));
  EXPECT_FALSE(list.blocks(jid("montague.net/other")));
  EXPECT_FALSE(list.blocks(jid("romeo@montague.net/bot")));
}

TEST(BlockingMatch, DomainBlocksEverythingAtItButNotSubdomains) {
  BlockList list({"montague.net"});
  EXPECT_TRUE(list.blocks(jid("montague.net")));
  EXPECT_TRUE(list.blocks(jid("montague.net/bot")));
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net")));
  EXPECT_TRUE(list.blocks(jid("romeo@montague.net/orchard")));
  EXPECT_FALSE(list.blocks(jid("chat.montague.net")));
  EXPECT_FALSE(list.blocks(jid("montague.net.evil")));
  EXPECT_FALSE(list.blocks(jid("capulet.com")));
}

TEST(BlockingMatch, ItemsAreComparedInCanonicalForm) {
  // The module stores Jid::full(); an address matches whatever case it was written in.
  BlockList list({jid("Romeo@Montague.NET").full()});
  EXPECT_TRUE(list.blocks(jid("ROMEO@montague.net/x")));
}

TEST(BlockingMatch, EmptyListBlocksNothingAndDuplicatesAreDropped) {
  EXPECT_FALSE(BlockList().blocks(jid("romeo@montague.net")));
  BlockList list({"a@b", "a@b", "c"});
  EXPECT_EQ(list.items(), (std::vector<std::string>{"a@b", "c"}));
}

TEST(BlockingMatch, OwnResourcesAndOwnServerAreExempt) {
  Jid juliet = jid("juliet@capulet.com");
  EXPECT_TRUE(exempt(juliet, jid("juliet@capulet.com/balcony")));
  EXPECT_TRUE(exempt(juliet, jid("juliet@capulet.com")));
  EXPECT_TRUE(exempt(juliet, jid("capulet.com")));
  EXPECT_FALSE(exempt(juliet, jid("capulet.com/bot")));
  EXPECT_FALSE(exempt(juliet, jid("nurse@capulet.com")));
  EXPECT_FALSE(exempt(juliet, jid("montague.net")));
  EXPECT_FALSE(exempt(juliet, jid("juliet@montague.net")));
}

}  // namespace
}  // namespace parley::modules::blocking
