#include "federation/srv_order.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace parley::federation {
namespace {

SrvRecord rec(std::uint16_t priority, std::uint16_t weight, std::string target,
              std::uint16_t port = 5269, bool direct_tls = false) {
  return {priority, weight, port, std::move(target), direct_tls};
}

std::vector<std::string> targets(const std::vector<SrvRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.target);
  return out;
}

SrvAnswer answer(std::vector<SrvRecord> records) {
  return {LookupStatus::ok, std::move(records), {}};
}
SrvAnswer status(LookupStatus s) { return {s, {}, s == LookupStatus::failure ? "SERVFAIL" : ""}; }

TEST(SrvOrder, PriorityAscendingAlways) {
  std::vector<SrvRecord> records = {rec(30, 5, "c"), rec(10, 0, "a"), rec(20, 100, "b"),
                                    rec(10, 0, "a2"), rec(30, 1, "c2")};
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    auto ordered = order_srv_records(records, rng);
    ASSERT_EQ(ordered.size(), records.size());
    for (std::size_t i = 1; i < ordered.size(); ++i) {
      ASSERT_LE(ordered[i - 1].priority, ordered[i].priority) << "seed " << seed;
    }
    EXPECT_EQ(ordered[2].target, "b");
  }
}

TEST(SrvOrder, SameSeedSameOrder) {
  std::vector<SrvRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back(rec(1, static_cast<std::uint16_t>(i * 7), "t" + std::to_string(i)));
  std::mt19937_64 a(42), b(42);
  EXPECT_EQ(targets(order_srv_records(records, a)), targets(order_srv_records(records, b)));
}

// Counts how often each target comes first over many draws from one seeded engine.
std::map<std::string, int> first_counts(const std::vector<SrvRecord>& records, int draws) {
  std::mt19937_64 rng(20240501);
  std::map<std::string, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[order_srv_records(records, rng).front().target];
  return counts;
}

TEST(SrvOrder, WeightsAreProportional) {
  // RFC 2782: weights 1 and 3 of a sum of 4.
  auto counts = first_counts({rec(0, 1, "light"), rec(0, 3, "heavy")}, 8000);
  EXPECT_NEAR(counts["heavy"] / 8000.0, 0.75, 0.03);
  EXPECT_NEAR(counts["light"] / 8000.0, 0.25, 0.03);
}

TEST(SrvOrder, WeightZeroKeepsASmallChance) {
  // RFC 2782: weight-0 records are put first and picked only when the random number is
  // 0, i.e. 1 time in sum+1 = 11.
  auto counts = first_counts({rec(0, 10, "weighted"), rec(0, 0, "zero")}, 11000);
  EXPECT_NEAR(counts["zero"] / 11000.0, 1.0 / 11, 0.015);
  EXPECT_GT(counts["weighted"], counts["zero"] * 5);
  // With more weighted records, they share the rest in proportion: 1/11, 3/11, 7/11.
  counts = first_counts({rec(0, 3, "three"), rec(0, 0, "zero"), rec(0, 7, "seven")}, 11000);
  EXPECT_NEAR(counts["zero"] / 11000.0, 1.0 / 11, 0.015);
  EXPECT_NEAR(counts["three"] / 11000.0, 3.0 / 11, 0.02);
  EXPECT_NEAR(counts["seven"] / 11000.0, 7.0 / 11, 0.02);
}

TEST(SrvOrder, AllWeightsZeroShuffleUniformly) {
  auto counts = first_counts({rec(5, 0, "a"), rec(5, 0, "b"), rec(5, 0, "c")}, 9000);
  for (const char* t : {"a", "b", "c"}) EXPECT_NEAR(counts[t] / 9000.0, 1.0 / 3, 0.03) << t;
}

TEST(SrvOrder, EveryRecordExactlyOnce) {
  std::vector<SrvRecord> records = {rec(1, 0, "a"), rec(1, 50, "b"), rec(1, 50, "c"),
                                    rec(2, 0, "d"), rec(2, 0, "e")};
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    std::mt19937_64 rng(seed);
    auto got = targets(order_srv_records(records, rng));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  }
}

TEST(SrvPlan, MixesDirectTlsAndStarttlsByPriority) {
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com",
                            answer({rec(5, 0, "tls.example.com.", 5270, true)}),
                            answer({rec(10, 0, "XMPP.Example.com.", 5269, false),
                                    rec(1, 0, "first.example.com.", 5300, false)}),
                            rng);
  ASSERT_EQ(plan.error, ResolveError::none) << plan.reason;
  EXPECT_FALSE(plan.fallback);
  EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"first.example.com", 5300, false},
                                                     {"tls.example.com", 5270, true},
                                                     {"xmpp.example.com", 5269, false}}));
}

TEST(SrvPlan, DotTargetMeansNotAvailable) {
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com", status(LookupStatus::no_data),
                            answer({rec(0, 0, ".", 0)}), rng);
  EXPECT_EQ(plan.error, ResolveError::service_unavailable);
  EXPECT_TRUE(plan.candidates.empty());
  EXPECT_NE(plan.reason.find("example.com"), std::string::npos) << plan.reason;
  // c-ares reports the root name as "".
  plan = plan_from_srv("example.com", status(LookupStatus::nxdomain), answer({rec(0, 0, "", 0)}), rng);
  EXPECT_EQ(plan.error, ResolveError::service_unavailable);
}

TEST(SrvPlan, DotForDirectTlsOnlyUsesStarttlsRecords) {
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com", answer({rec(0, 0, ".", 0, true)}),
                            answer({rec(0, 0, "xmpp.example.com", 5269)}), rng);
  ASSERT_EQ(plan.error, ResolveError::none);
  EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"xmpp.example.com", 5269, false}}));
}

TEST(SrvPlan, DotForDirectTlsAndNoStarttlsRecordsIsNoFallback) {
  // XEP-0368 §5: the domain uses SRV, so no A/AAAA fallback.
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com", answer({rec(0, 0, ".", 0, true)}),
                            status(LookupStatus::no_data), rng);
  EXPECT_EQ(plan.error, ResolveError::service_unavailable);
  EXPECT_FALSE(plan.fallback);
}

TEST(SrvPlan, DotNextToRealRecordsIsIgnored) {
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com", status(LookupStatus::no_data),
                            answer({rec(0, 0, ".", 0), rec(5, 0, "xmpp.example.com", 5269)}), rng);
  ASSERT_EQ(plan.error, ResolveError::none);
  EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"xmpp.example.com", 5269, false}}));
}

TEST(SrvPlan, NoRecordsFallsBackToTheDomain) {
  std::mt19937_64 rng(1);
  for (auto s : {LookupStatus::no_data, LookupStatus::nxdomain}) {
    auto plan = plan_from_srv("example.com", status(LookupStatus::no_data), status(s), rng);
    ASSERT_EQ(plan.error, ResolveError::none);
    EXPECT_TRUE(plan.fallback);
    EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"example.com", 5269, false}}));
  }
  // A failed _xmpps-server lookup (the optional extra) does not stop the fallback.
  auto plan = plan_from_srv("example.com", status(LookupStatus::failure), status(LookupStatus::no_data), rng);
  EXPECT_TRUE(plan.fallback);
  plan = plan_from_srv("example.com", status(LookupStatus::timeout), status(LookupStatus::nxdomain), rng);
  EXPECT_TRUE(plan.fallback);
}

TEST(SrvPlan, NoAnswerFallsBackTooAndSaysSo) {
  // RFC 6120 §3.2.1: no response to the SRV query, so the fallback process.
  std::mt19937_64 rng(1);
  auto plan = plan_from_srv("example.com", status(LookupStatus::no_data), status(LookupStatus::timeout), rng);
  ASSERT_EQ(plan.error, ResolveError::none);
  EXPECT_TRUE(plan.fallback);
  EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"example.com", 5269, false}}));
  EXPECT_EQ(plan.reason, "the DNS lookup of _xmpp-server._tcp.example.com timed out; trying example.com:5269");
  plan = plan_from_srv("example.com", status(LookupStatus::no_data), status(LookupStatus::failure), rng);
  EXPECT_TRUE(plan.fallback);
  EXPECT_NE(plan.reason.find("SERVFAIL"), std::string::npos) << plan.reason;
  // ... but records of the other service win over any fallback.
  plan = plan_from_srv("example.com", answer({rec(0, 0, "tls.example.com", 5223, true)}),
                       status(LookupStatus::timeout), rng);
  ASSERT_EQ(plan.error, ResolveError::none);
  EXPECT_FALSE(plan.fallback);
  EXPECT_EQ(plan.candidates, (std::vector<Candidate>{{"tls.example.com", 5223, true}}));
}

TEST(SrvRoute, ParsesHostPort) {
  EXPECT_EQ(parse_route("127.0.0.2:5269"), (Candidate{"127.0.0.2", 5269, false}));
  EXPECT_EQ(parse_route("[::1]:5270"), (Candidate{"::1", 5270, false}));
  EXPECT_EQ(parse_route("XMPP.Other.test:1"), (Candidate{"xmpp.other.test", 1, false}));
  EXPECT_EQ(parse_route("xmpp.other.test.:65535"), (Candidate{"xmpp.other.test", 65535, false}));
  for (const char* bad : {"", "host", "host:", ":5269", "host:0", "host:65536", "host:52x",
                          "host:+5", "::1:5269", "[::1]5269", "[127.0.0.1]:5269", "a b:5269",
                          "[::1]:"}) {
    EXPECT_FALSE(parse_route(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace parley::federation
