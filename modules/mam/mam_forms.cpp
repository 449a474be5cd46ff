// XEP-0313 query forms, XEP-0059 RSM, XEP-0082 date-times and XEP-0441 preferences.
#include "modules/mam/mam_forms.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "modules/mam/mam_ids.hpp"

namespace parley::modules::mam {

using server::xml::Element;

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month, day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
std::optional<unsigned> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return v;
}

// A non-negative decimal integer of at most 9 digits (RSM <max/>, <index/>).
std::optional<std::int64_t> small_number(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string trimmed(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

FormError bad_request(std::string text) { return {"bad-request", std::move(text)}; }

// The <value/> texts of a form field.
std::vector<std::string> values(const Element& field) {
  std::vector<std::string> out;
  for (const auto& v : field.children()) {
    if (v.name() == "value" && v.ns() == kDataNs) out.push_back(trimmed(v.text()));
  }
  return out;
}

// XEP-0004: a single-valued field; an empty or missing value counts as absent.
std::variant<std::optional<std::string>, FormError> single(const Element& field, std::string_view var) {
  auto v = values(field);
  if (v.size() > 1) return bad_request(fmt::format("the field '{}' takes one value", var));
  if (v.empty() || v.front().empty()) return std::optional<std::string>{};
  return std::optional<std::string>{std::move(v.front())};
}

std::optional<FormError> parse_form(const Element& x, QueryRequest& q) {
  auto type = x.attr("type");
  if (type && *type != "submit") return bad_request("the query form must be of type 'submit'");
  std::vector<std::string> seen;
  for (const auto& field : x.children()) {
    if (field.name() != "field" || field.ns() != kDataNs) continue;
    std::string var(field.attr("var").value_or(""));
    if (var.empty()) return bad_request("a form field without 'var'");
    if (std::find(seen.begin(), seen.end(), var) != seen.end()) {
      return bad_request(fmt::format("the field '{}' appears twice", var));
    }
    seen.push_back(var);
    if (var == "ids") {
      std::vector<std::string> ids;
      for (auto& v : values(field)) {
        if (!v.empty()) ids.push_back(std::move(v));
      }
      q.ids = std::move(ids);
      continue;
    }
    auto one = single(field, var);
    if (auto* e = std::get_if<FormError>(&one)) return std::move(*e);
    auto& value = std::get<std::optional<std::string>>(one);
    if (var == "FORM_TYPE") {
      if (!value || *value != kMamNs) return bad_request("FORM_TYPE must be urn:xmpp:mam:2");
    } else if (var == "with") {
      if (!value) continue;
      q.with = server::Jid::parse(*value);
      if (!q.with) return bad_request("'with' is not a valid JID");
    } else if (var == "start" || var == "end") {
      if (!value) continue;
      auto t = parse_datetime(*value);
      if (!t) return bad_request(fmt::format("'{}' is not an XEP-0082 date-time", var));
      (var == "start" ? q.start : q.end) = *t;
    } else if (var == "after-id") {
      q.after_id = std::move(value);
    } else if (var == "before-id") {
      q.before_id = std::move(value);
    } else {
      // XEP-0313 §4.1.5: a field the server does not recognise.
      return FormError{"feature-not-implemented", fmt::format("the field '{}' is not supported", var)};
    }
  }
  return std::nullopt;
}

std::optional<FormError> parse_rsm(const Element& set, QueryRequest& q) {
  for (const auto& c : set.children()) {
    if (c.ns() != kRsmNs) continue;
    if (c.name() == "max") {
      q.max = small_number(trimmed(c.text()));
      if (!q.max) return bad_request("RSM <max/> must be a non-negative integer");
    } else if (c.name() == "index") {
      q.index = small_number(trimmed(c.text()));
      if (!q.index) return bad_request("RSM <index/> must be a non-negative integer");
    } else if (c.name() == "after") {
      q.after = trimmed(c.text());
      if (q.after->empty()) return bad_request("RSM <after/> needs an id");
    } else if (c.name() == "before") {
      q.before = trimmed(c.text());
    }
  }
  return std::nullopt;
}

// An id the client named: item-not-found unless it can be one of ours.
std::variant<std::int64_t, FormError> known_id(const std::string& text) {
  auto id = decode_id(text);
  if (!id) return FormError{"item-not-found", "no message with that id in the archive"};
  return *id;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

}  // namespace

std::optional<std::int64_t> parse_datetime(std::string_view s) {
  // CCYY-MM-DDThh:mm:ss
  auto y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  auto h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
  if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  if (*y == 0 || *mo < 1 || *mo > 12 || *d < 1 || *d > days_in_month(*y, *mo) || *h > 23 || *mi > 59 || *se > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t first = pos;
    std::int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      micros += scale * (s[pos] - '0');
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  std::int64_t offset_minutes = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    auto oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
    if (!oh || !om || s[pos + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
    offset_minutes = (s[pos] == '-' ? -1 : 1) * static_cast<std::int64_t>(*oh * 60 + *om);
    pos += 6;
  } else {
    return std::nullopt;  // XEP-0082 §3.2: the time zone is required
  }
  if (pos != s.size()) return std::nullopt;
  std::int64_t seconds = days_from_civil(*y, *mo, *d) * 86400 + *h * 3600 + *mi * 60 + *se - offset_minutes * 60;
  return seconds * 1000000 + micros;
}

std::string format_datetime(std::int64_t micros) {
  std::int64_t seconds = floor_div(micros, 1000000);
  std::int64_t frac = micros - seconds * 1000000;
  std::int64_t days = floor_div(seconds, 86400);
  std::int64_t rest = seconds - days * 86400;
  Civil c = civil_from_days(days);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, rest / 3600,
                                rest / 60 % 60, rest % 60);
  if (frac != 0) out += fmt::format(".{:06}", frac);
  out += 'Z';
  return out;
}

std::variant<QueryRequest, FormError> parse_query(const Element& query) {
  QueryRequest q;
  q.queryid = std::string(query.attr("queryid").value_or(""));
  if (query.attr("node")) return FormError{"feature-not-implemented", "no pubsub archives here"};
  bool form = false, rsm = false;
  for (const auto& c : query.children()) {
    if (c.name() == "x" && c.ns() == kDataNs) {
      if (form) return bad_request("more than one data form");
      form = true;
      if (auto e = parse_form(c, q)) return std::move(*e);
    } else if (c.name() == "set" && c.ns() == kRsmNs) {
      if (rsm) return bad_request("more than one RSM set");
      rsm = true;
      if (auto e = parse_rsm(c, q)) return std::move(*e);
    } else if (c.name() == "flip-page" && c.ns() == kMamNs) {
      q.flip_page = true;
    }
  }
  return q;
}

std::variant<StoreQuery, FormError> to_store_query(const QueryRequest& r, std::string host, std::string user,
                                                   std::int64_t max_page) {
  StoreQuery q;
  q.host = std::move(host);
  q.user = std::move(user);
  if (r.with) {
    q.with_bare = r.with->bare().full();
    q.with_resource = std::string(r.with->resource());
  }
  auto lower = [&q](std::int64_t id) { q.after = std::max(q.after, id); };
  auto upper = [&q](std::int64_t id) { q.before = std::min(q.before, id); };
  // Every id the client names must be in the archive (checked by the store).
  auto named = [&q](const std::string& text) -> std::variant<std::int64_t, FormError> {
    auto id = known_id(text);
    if (auto* v = std::get_if<std::int64_t>(&id)) q.must_exist.push_back(*v);
    return id;
  };
  for (const auto* field : {&r.after_id, &r.before_id}) {
    if (!*field) continue;
    auto id = named(**field);
    if (auto* e = std::get_if<FormError>(&id)) return std::move(*e);
    if (field == &r.after_id) {
      lower(std::get<std::int64_t>(id));
    } else {
      upper(std::get<std::int64_t>(id));
    }
  }
  if (r.after) {
    auto id = named(*r.after);
    if (auto* e = std::get_if<FormError>(&id)) return std::move(*e);
    q.page_after = std::get<std::int64_t>(id);
  }
  if (r.before) {
    // XEP-0059: <before/> pages backwards from the end of the set; an empty one asks
    // for the last page. XEP-0313 §4.3.2 leaves <after/> with <before/> undefined: here both
    // bound the page, which is taken from its end.
    q.backward = true;
    if (!r.before->empty()) {
      auto id = named(*r.before);
      if (auto* e = std::get_if<FormError>(&id)) return std::move(*e);
      q.page_before = std::get<std::int64_t>(id);
    }
  }
  if (r.index) {
    if (r.after || r.before) return bad_request("RSM <index/> cannot be combined with <after/> or <before/>");
    q.offset = *r.index;
  }
  // XEP-0313 §4.1.2: timestamp >= start and <= end. Timestamps are whole milliseconds and
  // the millisecond is the top of the id, so both are exact id bounds.
  constexpr std::int64_t kLastMs = ms_of_id(std::numeric_limits<std::int64_t>::max());
  if (r.start) {
    std::int64_t ms = -floor_div(-*r.start, 1000);  // the first whole millisecond >= start
    if (ms > kLastMs) {
      lower(std::numeric_limits<std::int64_t>::max());  // after anything ids can express
    } else if (ms > 0) {
      lower(first_id_of_ms(ms) - 1);
    }
  }
  if (r.end) {
    std::int64_t ms = floor_div(*r.end, 1000);
    if (ms < 0) {
      upper(0);  // before the epoch: nothing was archived then
    } else if (ms < kLastMs) {
      upper(first_id_of_ms(ms + 1));
    }
  }
  if (r.ids) {
    if (static_cast<std::int64_t>(r.ids->size()) > max_page) {
      return FormError{"policy-violation", fmt::format("at most {} ids in one query", max_page)};
    }
    q.by_ids = true;
    for (const auto& text : *r.ids) {
      auto id = named(text);
      if (auto* e = std::get_if<FormError>(&id)) return std::move(*e);
      q.ids.push_back(std::get<std::int64_t>(id));
    }
    std::sort(q.ids.begin(), q.ids.end());
    q.ids.erase(std::unique(q.ids.begin(), q.ids.end()), q.ids.end());
  }
  std::sort(q.must_exist.begin(), q.must_exist.end());
  q.must_exist.erase(std::unique(q.must_exist.begin(), q.must_exist.end()), q.must_exist.end());
  q.limit = r.max ? std::min(*r.max, max_page) : max_page;
  return q;
}

Element query_form() {
  Element query("query", std::string(kMamNs));
  auto& x = query.add_child("x", std::string(kDataNs));
  x.set_attr("type", "form");
  auto field = [&x](const char* var, const char* type) -> Element& {
    auto& f = x.add_child("field", std::string(kDataNs));
    f.set_attr("type", type);
    f.set_attr("var", var);
    return f;
  };
  field("FORM_TYPE", "hidden").add_child("value", std::string(kDataNs)).add_text(std::string(kMamNs));
  field("with", "jid-single");
  field("start", "text-single");
  field("end", "text-single");
  field("before-id", "text-single");
  field("after-id", "text-single");
  // XEP-0313 §4.1.5: the list of ids is open (XEP-0122), never enumerated.
  auto& validate = field("ids", "list-multi").add_child("validate", std::string(kValidateNs));
  validate.set_attr("datatype", "xs:string");
  validate.add_child("open", std::string(kValidateNs));
  return query;
}

// ---- Preferences ----------------------------------------------------------------------

std::optional<Policy> parse_policy(std::string_view text) {
  if (text == "always") return Policy::always;
  if (text == "never") return Policy::never;
  if (text == "roster") return Policy::roster;
  return std::nullopt;
}

std::string_view to_string(Policy policy) {
  switch (policy) {
    case Policy::always: return "always";
    case Policy::never: return "never";
    case Policy::roster: return "roster";
  }
  return "always";
}

std::variant<Prefs, FormError> parse_prefs(const Element& prefs) {
  Prefs out;
  auto policy = parse_policy(prefs.attr("default").value_or(""));
  if (!policy) return bad_request("'default' must be always, never or roster");
  out.policy = *policy;
  for (const auto& list : prefs.children()) {
    if (list.ns() != kMamNs || (list.name() != "always" && list.name() != "never")) continue;
    auto& target = list.name() == "always" ? out.always : out.never;
    for (const auto& j : list.children()) {
      if (j.name() != "jid" || j.ns() != kMamNs) continue;
      auto jid = server::Jid::parse(trimmed(j.text()));
      if (!jid) return bad_request("a malformed JID in the preferences");
      target.push_back(jid->full());
    }
  }
  for (auto* list : {&out.always, &out.never}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
    if (list->size() > kMaxPrefsJids) {
      return FormError{"policy-violation", fmt::format("at most {} JIDs on each list", kMaxPrefsJids)};
    }
  }
  return out;
}

Element prefs_element(const Prefs& prefs) {
  Element e("prefs", std::string(kMamNs));
  e.set_attr("default", std::string(to_string(prefs.policy)));
  for (const auto* list : {&prefs.always, &prefs.never}) {
    auto& l = e.add_child(list == &prefs.always ? "always" : "never", std::string(kMamNs));
    for (const auto& jid : *list) l.add_child("jid", std::string(kMamNs)).add_text(jid);
  }
  return e;
}

}  // namespace parley::modules::mam
