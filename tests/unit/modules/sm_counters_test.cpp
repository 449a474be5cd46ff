// XEP-0198 counting rules (modules/stream_management/sm_counters.hpp).
#include "modules/stream_management/sm_counters.hpp"

#include <gtest/gtest.h>

namespace parley::modules::stream_management {
namespace {

server::Stanza message(std::string type, bool with_body) {
  server::xml::Element e("message", "jabber:client");
  if (!type.empty()) e.set_attr("type", type);
  if (with_body) e.add_child(server::xml::Element("body", "jabber:client")).add_text("hi");
  return *server::make_stanza(std::move(e));
}

TEST(SmInbound, CountsAStanzaOnlyWhenItAndEveryEarlierOneAreHandled) {
  Inbound in;
  auto a = in.receive(), b = in.receive(), c = in.receive();
  EXPECT_EQ(in.received(), 3u);
  in.complete(b);  // the second finished first: nothing counts yet
  EXPECT_EQ(in.handled(), 0u);
  in.complete(a);
  EXPECT_EQ(in.handled(), 2u);
  EXPECT_FALSE(in.caught_up(3));
  in.complete(c);
  in.complete(c);  // twice: no effect
  EXPECT_EQ(in.handled(), 3u);
  EXPECT_TRUE(in.caught_up(3));
}

// A resumption answers with the handled count; the client sends the rest again.
TEST(SmInbound, RewindForgetsWhatWasNotHandledAndCountsTheResentCopies) {
  Inbound in;
  auto a = in.receive(), b = in.receive(), c = in.receive();
  in.complete(a);
  in.rewind();
  EXPECT_EQ(in.received(), 1u);
  EXPECT_EQ(in.handled(), 1u);
  in.complete(c);  // late completions of what was forgotten count for nothing
  EXPECT_EQ(in.handled(), 1u);
  auto b2 = in.receive(), c2 = in.receive();  // the client sends them again
  EXPECT_EQ(in.received(), 3u);
  in.complete(b);
  EXPECT_EQ(in.handled(), 1u);
  in.complete(b2);
  in.complete(c2);
  EXPECT_EQ(in.handled(), 3u);
  EXPECT_TRUE(in.caught_up(3));
}

TEST(SmUnacked, AcknowledgementsDropWhatTheClientHandledAndRefuseTooHigh) {
  Unacked out;
  for (int i = 0; i < 3; ++i) out.push(Sent{message("chat", true), "<m" + std::to_string(i) + "/>"});
  EXPECT_EQ(out.sent(), 3u);
  EXPECT_TRUE(out.ack(2));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.items().front().xml, "<m2/>");
  EXPECT_FALSE(out.ack(4));  // handled-count-too-high
  EXPECT_FALSE(out.ack(1));  // behind what was acknowledged: wraps to a huge count
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(out.ack(3));
  EXPECT_EQ(out.size(), 0u);
}

TEST(SmCounters, HParsesAsAnUnsigned32BitCount) {
  EXPECT_EQ(parse_h("0"), 0u);
  EXPECT_EQ(parse_h("4294967295"), 4294967295u);
  EXPECT_FALSE(parse_h("4294967296"));
  EXPECT_FALSE(parse_h("-1"));
  EXPECT_FALSE(parse_h(""));
  EXPECT_FALSE(parse_h("12a"));
}

TEST(SmCounters, ChatAndNormalMessagesWithABodyGoOffline) {
  EXPECT_TRUE(goes_offline(message("chat", true)));
  EXPECT_TRUE(goes_offline(message("", true)));
  EXPECT_TRUE(goes_offline(message("normal", true)));
  EXPECT_FALSE(goes_offline(message("chat", false)));
  EXPECT_FALSE(goes_offline(message("headline", true)));
  EXPECT_FALSE(goes_offline(message("error", true)));
  EXPECT_FALSE(goes_offline(message("groupchat", true)));
}

}  // namespace
}  // namespace parley::modules::stream_management
