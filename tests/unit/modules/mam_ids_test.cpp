// Archive ids (modules/mam/mam_ids.hpp): the text form round-trips and sorts like the
// numbers, ids only grow, carry their millisecond, and do not count messages.
#include "modules/mam/mam_ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

namespace parley::modules::mam {
namespace {

TEST(MamIds, TextFormRoundTripsAndSortsLikeTheNumbers) {
  std::vector<std::int64_t> ids{1, 31, 32, 1000, first_id_of_ms(1700000000000) + 12345,
                                std::numeric_limits<std::int64_t>::max()};
  std::vector<std::string> texts;
  for (auto id : ids) {
    auto text = encode_id(id);
    EXPECT_EQ(text.size(), 13u);
    EXPECT_EQ(decode_id(text), id) << text;
    texts.push_back(text);
  }
  EXPECT_TRUE(std::is_sorted(texts.begin(), texts.end()));
}

TEST(MamIds, DecodeRefusesWhatEncodeCannotProduce) {
  for (const char* bad : {"", "0000000000000", "000000000000", "00000000000000", "0000000000001x",
                          "000000000000i", "000000000000l", "000000000000o", "000000000000u", "000000000000A",
                          "8000000000000", "z000000000000", "00000-0000001"}) {
    EXPECT_FALSE(decode_id(bad)) << bad;
  }
  EXPECT_EQ(decode_id("0000000000001"), 1);
  EXPECT_EQ(decode_id("7zzzzzzzzzzzz"), std::numeric_limits<std::int64_t>::max());
}

TEST(MamIds, IdsGrowAndCarryTheirMillisecond) {
  IdGenerator gen(42);
  std::int64_t now = 1700000000123456;  // microseconds
  std::int64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    auto id = gen.next(now);
    EXPECT_GT(id, last);
    EXPECT_EQ(ms_of_id(id), now / 1000) << "a few ids per millisecond stay in it";
    EXPECT_EQ(archive_micros(id), now / 1000 * 1000);
    last = id;
  }
  // A new millisecond starts a new sequence.
  auto later = gen.next(now + 5000);
  EXPECT_EQ(ms_of_id(later), now / 1000 + 5);
}

TEST(MamIds, TheClockSteppingBackNeverMakesASmallerId) {
  IdGenerator gen(7);
  auto a = gen.next(1700000000000000);
  auto b = gen.next(1699999990000000);  // ten seconds back
  EXPECT_GT(b, a);
  EXPECT_EQ(ms_of_id(b), ms_of_id(a)) << "the id keeps the last millisecond until the clock catches up";
}

TEST(MamIds, AFloodWithinOneMillisecondBorrowsTheNext) {
  IdGenerator gen(1);
  std::int64_t last = 0;
  for (int i = 0; i < 5000; ++i) {
    auto id = gen.next(1700000000000000);
    ASSERT_GT(id, last);
    last = id;
  }
  EXPECT_GT(ms_of_id(last), 1700000000000) << "65536 sequence values cannot hold 5000 random steps";
}

TEST(MamIds, NeighbouringIdsDoNotCountMessages) {
  // Consecutive ids differ by a random step, and each millisecond starts at a random point:
  // the difference between two ids says little about how many messages lie between them.
  IdGenerator gen(99);
  std::set<std::int64_t> steps, starts;
  std::int64_t prev = gen.next(1700000000000000);
  for (int i = 0; i < 100; ++i) {
    auto id = gen.next(1700000000000000);
    steps.insert(id - prev);
    prev = id;
  }
  for (int ms = 0; ms < 50; ++ms) starts.insert(gen.next(1700000001000000 + ms * 1000) & 0xffff);
  EXPECT_GT(steps.size(), 20u);
  EXPECT_GT(starts.size(), 40u);
}

}  // namespace
}  // namespace parley::modules::mam
