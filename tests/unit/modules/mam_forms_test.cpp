// XEP-0313 query forms, XEP-0059 RSM, XEP-0082 date-times and XEP-0441 preferences
// (modules/mam/mam_forms.hpp), on the XML a client sends.
#include "modules/mam/mam_forms.hpp"

#include <gtest/gtest.h>

#include "modules/mam/mam_ids.hpp"
#include "tests/unit/xml_snippet.hpp"

namespace parley::modules::mam {
namespace {

using server::xml::Element;

Element parse(std::string_view xml) { return test::parse_element(xml); }

// A query with the given form fields (var -> values) and RSM children.
Element query(const std::vector<std::pair<std::string, std::vector<std::string>>>& fields,
              const std::string& rsm = "", const std::string& extra = "") {
  std::string xml = "<query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'>"
                    "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>";
  for (const auto& [var, values] : fields) {
    xml += "<field var='" + var + "'>";
    for (const auto& v : values) xml += "<value>" + v + "</value>";
    xml += "</field>";
  }
  xml += "</x>";
  if (!rsm.empty()) xml += "<set xmlns='http://jabber.org/protocol/rsm'>" + rsm + "</set>";
  return parse(xml + extra + "</query>");
}

QueryRequest ok(const Element& q) {
  auto r = parse_query(q);
  if (auto* e = std::get_if<FormError>(&r)) ADD_FAILURE() << e->condition << ": " << e->text;
  return std::get<QueryRequest>(r);
}

std::string_view condition(const Element& q) {
  auto r = parse_query(q);
  return std::holds_alternative<FormError>(r) ? std::get<FormError>(r).condition : "ok";
}

StoreQuery resolve(const Element& q, std::int64_t max_page = 250) {
  auto r = to_store_query(ok(q), "localhost", "alice", max_page);
  if (auto* e = std::get_if<FormError>(&r)) ADD_FAILURE() << e->condition << ": " << e->text;
  return std::get<StoreQuery>(r);
}

std::string_view resolve_condition(const Element& q) {
  auto r = to_store_query(ok(q), "localhost", "alice", 250);
  return std::holds_alternative<FormError>(r) ? std::get<FormError>(r).condition : "ok";
}

// ---- XEP-0082 ----

TEST(MamForms, DateTimesOfXep0082) {
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime("2010-07-10T23:08:25Z"), 1278803305LL * 1000000);
  EXPECT_EQ(parse_datetime("2010-07-10T23:08:25.123Z"), 1278803305123000LL);
  EXPECT_EQ(parse_datetime("2010-07-10T23:08:25.1234567Z"), 1278803305123456LL) << "beyond microseconds: cut off";
  EXPECT_EQ(parse_datetime("2010-07-11T01:08:25+02:00"), 1278803305LL * 1000000);
  EXPECT_EQ(parse_datetime("2010-07-10T18:38:25-04:30"), 1278803305LL * 1000000);
  EXPECT_EQ(parse_datetime("2000-02-29T00:00:00Z"), 951782400LL * 1000000) << "a leap day";
  EXPECT_EQ(parse_datetime("1969-12-31T23:59:59Z"), -1000000);
  for (const char* bad : {"", "2010-07-10", "2010-07-10T23:08:25", "2010-07-10 23:08:25Z", "2010-13-10T23:08:25Z",
                          "2010-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2010-07-10T24:00:00Z",
                          "2010-07-10T23:60:00Z", "2010-07-10T23:08:25.Z", "2010-07-10T23:08:25+0200",
                          "2010-07-10T23:08:25Zjunk", "0000-01-01T00:00:00Z", "2010-7-10T23:08:25Z", "yesterday"}) {
    EXPECT_FALSE(parse_datetime(bad)) << bad;
  }
}

TEST(MamForms, DateTimesAreWrittenInUtcWithMicrosecondsWhenThereAreAny) {
  EXPECT_EQ(format_datetime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_datetime(1278803305LL * 1000000), "2010-07-10T23:08:25Z");
  EXPECT_EQ(format_datetime(1278803305000250LL), "2010-07-10T23:08:25.000250Z");
  EXPECT_EQ(format_datetime(-1), "1969-12-31T23:59:59.999999Z");
  for (std::int64_t t : {std::int64_t{951782400123000}, std::int64_t{4102444799999999}, std::int64_t{-86400000000}}) {
    EXPECT_EQ(parse_datetime(format_datetime(t)), t);
  }
}

// ---- the query form ----

TEST(MamForms, AnEmptyQueryAsksForEverything) {
  auto r = ok(parse("<query xmlns='urn:xmpp:mam:2'/>"));
  EXPECT_EQ(r.queryid, "");
  EXPECT_FALSE(r.with || r.start || r.end || r.after_id || r.before_id || r.ids || r.max || r.after || r.before);
  auto q = resolve(parse("<query xmlns='urn:xmpp:mam:2'/>"));
  EXPECT_EQ(q.limit, 250);
  EXPECT_FALSE(q.backward);
  EXPECT_TRUE(q.must_exist.empty());
  EXPECT_EQ(q.after, 0);
  EXPECT_EQ(q.before, std::numeric_limits<std::int64_t>::max());
}

TEST(MamForms, EveryField) {
  auto a = encode_id(first_id_of_ms(1000) + 5), b = encode_id(first_id_of_ms(2000) + 7);
  auto r = ok(query({{"with", {"juliet@capulet.lit/balcony"}},
                     {"start", {"2010-06-07T00:00:00Z"}},
                     {"end", {"2010-07-07T13:23:54Z"}},
                     {"after-id", {a}},
                     {"before-id", {b}},
                     {"ids", {a, b}}},
                    "<max>10</max><after>" + a + "</after>", "<flip-page/>"));
  EXPECT_EQ(r.queryid, "q1");
  ASSERT_TRUE(r.with);
  EXPECT_EQ(r.with->full(), "juliet@capulet.lit/balcony");
  EXPECT_EQ(r.start, 1275868800LL * 1000000);
  EXPECT_EQ(r.end, 1278509034LL * 1000000);
  EXPECT_EQ(r.after_id, a);
  EXPECT_EQ(r.before_id, b);
  EXPECT_EQ(r.ids, (std::vector<std::string>{a, b}));
  EXPECT_EQ(r.max, 10);
  EXPECT_EQ(r.after, a);
  EXPECT_TRUE(r.flip_page);
}

TEST(MamForms, MalformedFormsAreBadRequests) {
  EXPECT_EQ(condition(query({{"with", {"not a jid@"}}})), "bad-request");
  EXPECT_EQ(condition(query({{"start", {"2010-06-07"}}})), "bad-request");
  EXPECT_EQ(condition(query({{"end", {"tomorrow"}}})), "bad-request");
  EXPECT_EQ(condition(query({{"with", {"a@b", "c@d"}}})), "bad-request") << "one value";
  EXPECT_EQ(condition(query({{"with", {"a@b"}}, {"with", {"a@b"}}})), "bad-request") << "twice";
  EXPECT_EQ(condition(parse("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>"
                            "<field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x></query>")),
            "bad-request");
  EXPECT_EQ(condition(parse("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='cancel'/></query>")),
            "bad-request");
  EXPECT_EQ(condition(parse("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field/></x></query>")),
            "bad-request");
  EXPECT_EQ(condition(query({}, "<max>-1</max>")), "bad-request");
  EXPECT_EQ(condition(query({}, "<max>ten</max>")), "bad-request");
  EXPECT_EQ(condition(query({}, "<after/>")), "bad-request");
  EXPECT_EQ(condition(query({}, "<index>x</index>")), "bad-request");
  // XEP-0313 §4.1.5: an unknown field is feature-not-implemented.
  EXPECT_EQ(condition(query({{"include-groupchat", {"true"}}})), "feature-not-implemented");
  EXPECT_EQ(condition(parse("<query xmlns='urn:xmpp:mam:2' node='urn:xmpp:microblog:0'/>")),
            "feature-not-implemented");
  // Empty values count as absent; a form without type is accepted.
  EXPECT_EQ(condition(query({{"with", {""}}, {"start", {}}})), "ok");
  EXPECT_EQ(condition(parse("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'>"
                            "<field var='with'><value>a@b</value></field></x></query>")),
            "ok");
}

// ---- resolving against the archive ----

TEST(MamForms, WithSplitsIntoBareJidAndResource) {
  auto bare = resolve(query({{"with", {"Juliet@Capulet.lit"}}}));
  EXPECT_EQ(bare.with_bare, "juliet@capulet.lit");
  EXPECT_EQ(bare.with_resource, "");
  auto full = resolve(query({{"with", {"juliet@capulet.lit/Balcony"}}}));
  EXPECT_EQ(full.with_bare, "juliet@capulet.lit");
  EXPECT_EQ(full.with_resource, "Balcony");
}

TEST(MamForms, StartAndEndBecomeExactIdBounds) {
  // start = 1.0005 s: the first whole millisecond at or after it is 1001.
  auto q = resolve(query({{"start", {"1970-01-01T00:00:01.0005Z"}}, {"end", {"1970-01-01T00:00:02.0009Z"}}}));
  EXPECT_EQ(q.after, first_id_of_ms(1001) - 1);   // id > after  <=> ms >= 1001
  EXPECT_EQ(q.before, first_id_of_ms(2001));      // id < before <=> ms <= 2000
  auto exact = resolve(query({{"start", {"1970-01-01T00:00:01Z"}}, {"end", {"1970-01-01T00:00:01Z"}}}));
  EXPECT_EQ(exact.after, first_id_of_ms(1000) - 1);
  EXPECT_EQ(exact.before, first_id_of_ms(1001)) << "start = end = a message's stamp finds that message";
  EXPECT_EQ(resolve(query({{"end", {"1969-01-01T00:00:00Z"}}})).before, 0) << "before the epoch: nothing";
  auto far = resolve(query({{"start", {"9999-01-01T00:00:00Z"}}, {"end", {"9999-12-31T00:00:00Z"}}}));
  EXPECT_EQ(far.after, std::numeric_limits<std::int64_t>::max()) << "beyond what ids express: nothing";
  EXPECT_EQ(far.before, std::numeric_limits<std::int64_t>::max());
}

TEST(MamForms, IdsTheClientNamesMustExist) {
  auto a = first_id_of_ms(5000) + 1, b = first_id_of_ms(9000) + 2;
  auto q = resolve(query({{"after-id", {encode_id(a)}}, {"before-id", {encode_id(b)}}}));
  EXPECT_EQ(q.after, a);
  EXPECT_EQ(q.before, b);
  EXPECT_FALSE(q.backward) << "before-id bounds the range but does not page backwards";
  EXPECT_EQ(q.must_exist, (std::vector<std::int64_t>{a, b}));
  // Not one of ours at all: item-not-found (XEP-0313 §4.1.3, §4.3.2), like an unknown id.
  EXPECT_EQ(resolve_condition(query({{"after-id", {"nope"}}})), "item-not-found");
  EXPECT_EQ(resolve_condition(query({{"ids", {encode_id(a), "nope"}}})), "item-not-found");
  EXPECT_EQ(resolve_condition(query({}, "<before>nope</before>")), "item-not-found");
  EXPECT_EQ(resolve_condition(query({}, "<after>nope</after>")), "item-not-found");
}

TEST(MamForms, IdsListSelectsMessages) {
  auto a = first_id_of_ms(5000) + 1, b = first_id_of_ms(9000) + 2;
  auto q = resolve(query({{"ids", {encode_id(b), encode_id(a), encode_id(b)}}}));
  EXPECT_TRUE(q.by_ids);
  EXPECT_EQ(q.ids, (std::vector<std::int64_t>{a, b}));
  EXPECT_EQ(q.must_exist, (std::vector<std::int64_t>{a, b}));
  std::vector<std::string> many;
  for (int i = 1; i <= 11; ++i) many.push_back(encode_id(first_id_of_ms(5000) + i));
  auto r = to_store_query(ok(query({{"ids", many}})), "localhost", "alice", 10);
  ASSERT_TRUE(std::holds_alternative<FormError>(r));
  EXPECT_EQ(std::get<FormError>(r).condition, "policy-violation");
}

TEST(MamForms, RsmPaging) {
  auto x = first_id_of_ms(7000) + 3;
  auto after = resolve(query({}, "<max>10</max><after>" + encode_id(x) + "</after>"));
  EXPECT_EQ(after.page_after, x);
  EXPECT_EQ(after.after, 0) << "the cursor moves the page, not the set RSM counts";
  EXPECT_FALSE(after.backward);
  EXPECT_EQ(after.limit, 10);
  EXPECT_EQ(after.must_exist, std::vector<std::int64_t>{x});
  auto before = resolve(query({}, "<max>10</max><before>" + encode_id(x) + "</before>"));
  EXPECT_EQ(before.page_before, x);
  EXPECT_EQ(before.before, std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(before.backward);
  auto last = resolve(query({}, "<max>10</max><before/>"));
  EXPECT_TRUE(last.backward) << "an empty <before/> is the last page";
  EXPECT_EQ(last.page_before, std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(last.must_exist.empty());
  auto index = resolve(query({}, "<max>10</max><index>30</index>"));
  EXPECT_EQ(index.offset, 30);
  EXPECT_EQ(resolve_condition(query({}, "<index>3</index><after>" + encode_id(x) + "</after>")), "bad-request");
  EXPECT_EQ(resolve(query({}, "<max>0</max>")).limit, 0) << "only the count";
  EXPECT_EQ(resolve(query({}, "<max>100000</max>"), 250).limit, 250) << "capped by max_page";
}

TEST(MamForms, TheDiscoveredFormListsEveryField) {
  Element form = query_form();
  const Element* x = form.find_child("x", kDataNs);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->attr("type"), "form");
  std::vector<std::string> vars;
  for (const auto& f : x->children()) vars.emplace_back(f.attr("var").value_or(""));
  EXPECT_EQ(vars, (std::vector<std::string>{"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"}));
  const Element* ids = &*std::next(x->children().begin(), 6);
  EXPECT_EQ(ids->attr("type"), "list-multi");
  const Element* validate = ids->find_child("validate", kValidateNs);
  ASSERT_NE(validate, nullptr);
  EXPECT_NE(validate->find_child("open", kValidateNs), nullptr);
}

// ---- XEP-0441 preferences ----

TEST(MamForms, Preferences) {
  auto r = parse_prefs(parse("<prefs xmlns='urn:xmpp:mam:2' default='roster'>"
                             "<always><jid>romeo@montague.lit</jid><jid>Benvolio@montague.lit</jid></always>"
                             "<never><jid>tybalt@capulet.lit/Sword</jid></never></prefs>"));
  ASSERT_TRUE(std::holds_alternative<Prefs>(r));
  auto& p = std::get<Prefs>(r);
  EXPECT_EQ(p.policy, Policy::roster);
  EXPECT_EQ(p.always, (std::vector<std::string>{"benvolio@montague.lit", "romeo@montague.lit"}));
  EXPECT_EQ(p.never, (std::vector<std::string>{"tybalt@capulet.lit/Sword"}));
  // What is written back reads back the same.
  auto again = parse_prefs(prefs_element(p));
  ASSERT_TRUE(std::holds_alternative<Prefs>(again));
  EXPECT_EQ(std::get<Prefs>(again), p);
  EXPECT_EQ(prefs_element(Prefs{}).attr("default"), "always");
}

TEST(MamForms, BadPreferences) {
  for (const char* bad : {"<prefs xmlns='urn:xmpp:mam:2'/>", "<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>",
                          "<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>@x</jid></never></prefs>"}) {
    auto r = parse_prefs(parse(bad));
    ASSERT_TRUE(std::holds_alternative<FormError>(r)) << bad;
    EXPECT_EQ(std::get<FormError>(r).condition, "bad-request") << bad;
  }
}

}  // namespace
}  // namespace parley::modules::mam
