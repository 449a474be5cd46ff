#include "server/xml/stream_parser.hpp"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <new>
#include <stdexcept>

#include "server/xml/serializer.hpp"

// How input reaches expat, and why.
//
// Bytes are first held in pending_ and handed to expat only when a token that can finish a
// stanza may have ended: when a '>' closes a tag, comment, CDATA section or PI, which scan()
// tracks with a tiny lexer that knows about quoted attribute values (before the stream
// header, which is short, every feed() is parsed at once). Every stanza, the header and the
// stream close end with such a '>', so every complete stanza is delivered by the feed() call
// that carries its last byte. Waiting for it keeps expat from re-scanning one partial token
// on every small read (the quadratic blow-up of CVE-2023-52425). Expat's own remedy for
// that, reparse deferral (expat >= 2.6, backported to Debian's 2.5), may hold a complete
// stanza back until more bytes arrive, so it is turned off.
//
// Size limits are enforced on byte offsets, not on what expat has happened to report:
// expat is never given more than unit_start() + unit_limit() + 1 bytes, where the unit is
// the stream header, the stanza being parsed, or whatever follows the last event between
// stanzas. When that much is held, everything is parsed; if the unit is still unfinished it
// is provably larger than the limit. A complete unit is measured exactly at its end. Either
// way the verdict depends only on the stanza, not on how its bytes were split, and no more
// than about one limit's worth of input is ever held.
//
// Between stanzas, when everything received has been parsed (nothing pending, no partial
// token, expat's last event ends at the last byte fed), feed() frees the expat parser: an
// idle connection then holds no parser at all. The next flush() creates one and first feeds
// it a synthetic root tag, with no handlers set, that declares what the real stream header
// declared (the default namespace and every prefix); expat's byte indices then count from
// that tag, and base_ maps them back to stream offsets, so every limit above is measured as
// before.
//
// A consequence: after the header, a malformed byte is reported once more input arrives
// (typically when the next tag ends, at the latest at the limit), not necessarily by the
// feed() that carried it; which error is reported does not change.

namespace parley::server::xml {
namespace {

// Separator of "uri<sep>local" names. 0xFF never occurs in UTF-8, which is what expat hands
// out, so it cannot be part of a URI or a name (expat manual, XML_ParserCreateNS).
constexpr char kSep = '\xFF';

struct QName {
  std::string_view ns;
  std::string_view local;
};

QName split_name(const char* name) {
  const std::string_view s(name);
  const auto pos = s.find(kSep);
  if (pos == std::string_view::npos) return {{}, s};
  return {s.substr(0, pos), s.substr(pos + 1)};
}

bool is_xml_space(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// XML_SetReparseDeferralEnabled exists from expat 2.6 (and in distribution backports);
// found by argument-dependent lookup when declared, skipped when not.
template <typename Parser>
auto disable_reparse_deferral(Parser p, int) -> decltype(XML_SetReparseDeferralEnabled(p, XML_FALSE), void()) {
  XML_SetReparseDeferralEnabled(p, XML_FALSE);
}
template <typename Parser>
void disable_reparse_deferral(Parser, long) {}

StreamError error_for(XML_Error code) {
  std::string text = XML_ErrorString(code) ? XML_ErrorString(code) : "XML error";
  switch (code) {
    // RFC 6120 §11.1: entity references other than the predefined ones are restricted.
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_PARAM_ENTITY_REF:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
    case XML_ERROR_NOT_STANDALONE:
      return {"restricted-xml", "entity references are not allowed (RFC 6120 §11.1): " + text};
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
      return {"unsupported-encoding", "the stream must be UTF-8 (RFC 6120 §11.6)"};
    case XML_ERROR_NO_MEMORY:
      return {"resource-constraint", "out of memory while parsing"};
    default:
      return {"not-well-formed", text};
  }
}

// Expat refuses a run of character data that contains "]]>" (XML 1.0 §2.4) as one invalid
// token, without reporting the text before it; split over two reads, the same text is
// reported first. Between stanzas that text is the first error (bad-format, see
// character_data()), so it must win however the input was split. True when the invalid token
// expat just reported is "]]>" preceded by non-whitespace text starting at `text_start`.
bool text_before_cdata_end(XML_Parser parser, std::int64_t base, std::uint64_t text_start) {
  int offset = 0, size = 0;
  const char* context = XML_GetInputContext(parser, &offset, &size);
  const auto at = std::uint64_t(XML_GetCurrentByteIndex(parser) + base);  // the '>' of "]]>"
  if (context == nullptr || offset < 2 || offset >= size || at < text_start + 2 ||
      at - text_start > std::uint64_t(offset) ||
      std::string_view(context + offset - 2, 3) != "]]>") {
    return false;
  }
  return !is_xml_space(std::string_view(context + offset - (at - text_start), at - text_start - 2));
}

}  // namespace

// Expat's C callbacks. Each one ignores events after the parser was stopped (expat may still
// deliver a few, see XML_StopParser) and never lets an exception cross expat's C frames.
struct StreamParser::Callbacks {
  template <typename F>
  static void guarded(void* user, F&& f) {
    auto& self = *static_cast<StreamParser*>(user);
    if (self.stopped_) return;
    try {
      f(self);
    } catch (...) {
      self.exception_ = std::current_exception();
      self.stop();
    }
  }
  static void XMLCALL start(void* u, const XML_Char* name, const XML_Char** atts) {
    guarded(u, [&](StreamParser& s) { s.start_element(name, atts); });
  }
  static void XMLCALL end(void* u, const XML_Char*) {
    guarded(u, [&](StreamParser& s) { s.end_element(); });
  }
  static void XMLCALL chars(void* u, const XML_Char* data, int len) {
    guarded(u, [&](StreamParser& s) { s.character_data({data, std::size_t(len)}); });
  }
  static void XMLCALL ns_decl(void* u, const XML_Char* prefix, const XML_Char* uri) {
    guarded(u, [&](StreamParser& s) { s.namespace_decl(prefix, uri); });
  }
  static void XMLCALL xml_decl(void* u, const XML_Char*, const XML_Char* encoding, int) {
    guarded(u, [&](StreamParser& s) { s.xml_decl(encoding); });
  }
  static void XMLCALL other(void* u, const XML_Char*, int) {
    guarded(u, [&](StreamParser& s) { s.consumed_ = s.event_end(); });
  }
  static void XMLCALL cdata_mark(void* u) { other(u, nullptr, 0); }
  static void restricted(void* u, const char* what) {
    guarded(u, [&](StreamParser& s) {
      s.fail("restricted-xml", std::string(what) + " not allowed in XMPP (RFC 6120 §11.1)");
    });
  }
  static void XMLCALL comment(void* u, const XML_Char*) { restricted(u, "comments are"); }
  static void XMLCALL pi(void* u, const XML_Char*, const XML_Char*) {
    restricted(u, "processing instructions are");
  }
  static void XMLCALL doctype(void* u, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    restricted(u, "a document type declaration is");
  }
  static void XMLCALL entity_decl(void* u, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                  const XML_Char*, const XML_Char*, const XML_Char*) {
    restricted(u, "entity declarations are");
  }
  static void XMLCALL skipped_entity(void* u, const XML_Char*, int) {
    restricted(u, "entity references other than the predefined ones are");
  }
};

StreamParser::StreamParser(Handler& handler, std::string content_ns, Limits limits)
    : handler_(handler), content_ns_(std::move(content_ns)), limits_(limits) {
  // Held input is handed to expat in one call (an int length) and the header is parsed as
  // one unit of the stanza budget; see the file comment.
  limits_.max_stanza_bytes = std::min<std::size_t>(limits_.max_stanza_bytes, INT_MAX / 2);
  limits_.max_header_bytes = std::min(limits_.max_header_bytes, limits_.max_stanza_bytes);
  create_parser();
}

StreamParser::StreamParser(Handler& handler, std::string content_ns)
    : StreamParser(handler, std::move(content_ns), Limits{}) {}

StreamParser::~StreamParser() {
  if (parser_ != nullptr) XML_ParserFree(parser_);
}

void StreamParser::create_parser() {
  configure_parser();
  base_ = 0;
  set_handlers();
}

void StreamParser::set_handlers() {
  XML_SetUserData(parser_, this);
  XML_SetElementHandler(parser_, &Callbacks::start, &Callbacks::end);
  XML_SetCharacterDataHandler(parser_, &Callbacks::chars);
  XML_SetStartNamespaceDeclHandler(parser_, &Callbacks::ns_decl);
  XML_SetXmlDeclHandler(parser_, &Callbacks::xml_decl);
  XML_SetCdataSectionHandler(parser_, &Callbacks::cdata_mark, &Callbacks::cdata_mark);
  // RFC 6120 §11.1: no comments, PIs, DTDs, entity declarations or references. The default
  // handler also turns off expansion of internal entities (expat manual), and only tracks the
  // input position for whatever has no handler of its own.
  XML_SetCommentHandler(parser_, &Callbacks::comment);
  XML_SetProcessingInstructionHandler(parser_, &Callbacks::pi);
  XML_SetStartDoctypeDeclHandler(parser_, &Callbacks::doctype);
  XML_SetEntityDeclHandler(parser_, &Callbacks::entity_decl);
  XML_SetSkippedEntityHandler(parser_, &Callbacks::skipped_entity);
  XML_SetDefaultHandler(parser_, &Callbacks::other);
}

// A new expat parser with the settings that must precede any input.
void StreamParser::configure_parser() {
  // The encoding argument makes expat read UTF-8 whatever the document declares; a
  // declaration of anything else is refused in xml_decl().
  parser_ = XML_ParserCreateNS("UTF-8", kSep);
  if (parser_ == nullptr) throw std::bad_alloc();
  XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef XML_DTD
  // Belt and braces (expat declares these only when the includer defines XML_DTD): no
  // entity can be declared anyway, as the DOCTYPE is refused when it starts.
  XML_SetBillionLaughsAttackProtectionMaximumAmplification(parser_, 2.0f);
  XML_SetBillionLaughsAttackProtectionActivationThreshold(parser_, 64 * 1024);
#endif
  disable_reparse_deferral(parser_, 0);
}

// Between stanzas, after release_if_idle(): a parser inside a root element that declares
// what the stream header declared, its byte indices mapped to stream offsets by base_.
void StreamParser::resume_parser() {
  // The same qualified name as the real root: expat matches </stream:stream> against it.
  std::string root = "<" + root_name_ + " xmlns='";
  append_escaped_attr(root, header_.content_ns);
  for (const auto& [prefix, uri] : root_prefixes_) {
    root += "' xmlns:" + prefix + "='";
    append_escaped_attr(root, uri);
  }
  root += "'>";
  configure_parser();
  // No handlers yet: the synthetic tag produces no events.
  if (XML_Parse(parser_, root.data(), int(root.size()), XML_FALSE) != XML_STATUS_OK) {
    // Cannot happen: the tag is built from declarations expat accepted once already.
    XML_ParserFree(parser_);
    parser_ = nullptr;
    throw std::logic_error("cannot resume the XML parser");
  }
  base_ = std::int64_t(fed_) - std::int64_t(root.size());
  set_handlers();
}

void StreamParser::reset() {
  if (parser_ != nullptr) XML_ParserFree(parser_);
  parser_ = nullptr;
  pending_.clear();
  fed_ = consumed_ = stanza_start_ = last_start_end_ = 0;
  lex_ = Lex::text;
  lex_run_ = 0;
  depth_ = 0;
  stack_.clear();
  ns_decls_ = 0;
  header_ = StreamHeader{};
  root_prefixes_.clear();
  root_name_.clear();
  events_.clear();
  next_event_ = 0;
  exception_ = nullptr;
  in_parse_ = stopped_ = failed_ = closed_ = false;
  ++generation_;
  create_parser();
}

std::size_t StreamParser::bytes_buffered() const noexcept {
  return std::size_t(fed_ + pending_.size() - unit_start());
}

std::uint64_t StreamParser::unit_start() const noexcept {
  if (depth_ == 0) return 0;
  return stack_.empty() ? consumed_ : stanza_start_;
}

std::uint64_t StreamParser::unit_limit() const noexcept {
  return depth_ == 0 ? limits_.max_header_bytes : limits_.max_stanza_bytes;
}

bool StreamParser::feed(std::string_view bytes) {
  if (failed_) return false;
  if (closed_) return true;
  const std::uint64_t generation = generation_;
  while (!bytes.empty()) {
    const std::uint64_t received = fed_ + pending_.size();
    const std::uint64_t cap = unit_start() + unit_limit() + 1;
    if (received >= cap) {
      // One byte over the limit is held: parse it all; if the unit is still open it is too big.
      flush();
      if (!dispatch(generation)) return !failed_;
      if (fed_ + pending_.size() < unit_start() + unit_limit() + 1) continue;
      fail("policy-violation", depth_ == 0 ? "stream header too large" : "stanza too large");
      dispatch(generation);
      return !failed_;
    }
    const std::size_t take = std::size_t(std::min<std::uint64_t>(bytes.size(), cap - received));
    const std::string_view chunk = bytes.substr(0, take);
    bytes.remove_prefix(take);
    const bool token_may_have_ended = scan(chunk);
    pending_.append(chunk);
    // Before the header (at most max_header_bytes) parse at once, so that a peer speaking
    // something else than XMPP gets its error without delay.
    if (token_may_have_ended || depth_ == 0) {
      flush();
      if (!dispatch(generation)) return !failed_;
    }
  }
  release_if_idle();
  return true;
}

void StreamParser::set_release_when_idle(bool on) noexcept {
  release_idle_ = on;
  if (on && !in_parse_) release_if_idle();
}

void StreamParser::release_if_idle() {
  if (!release_idle_ || parser_ == nullptr || root_name_.empty() || failed_ || closed_ || depth_ != 1 || !stack_.empty() || !pending_.empty() ||
      lex_ != Lex::text || consumed_ != fed_ || next_event_ < events_.size()) {
    return;
  }
  XML_ParserFree(parser_);
  parser_ = nullptr;
  std::string().swap(pending_);
  std::vector<Element>().swap(stack_);
  std::vector<Event>().swap(events_);
  next_event_ = 0;
}

std::uint64_t StreamParser::byte_index() const {
  return std::uint64_t(std::int64_t(XML_GetCurrentByteIndex(parser_)) + base_);
}

// The lexer of the file comment: returns whether `chunk` holds a '>' that may end a tag,
// comment, CDATA section, PI or declaration. For well-formed input it agrees with expat on
// where tokens end. It only decides when to call expat, never whether input is valid: on
// malformed input a wrong guess delays the error, it cannot change it. Quotes that cannot
// open a value and '<' inside a value also call expat, which then reports the error that
// would otherwise have thrown the quote tracking off.
bool StreamParser::scan(std::string_view chunk) {
  bool ended = false;
  for (const char c : chunk) ended = lex(c) || ended;
  return ended;
}

// One byte of scan(); returns whether it may end a token (or expat should see a mistake).
bool StreamParser::lex(char c) {
  switch (lex_) {
    case Lex::text:
      if (c == '<') lex_ = Lex::lt;
      return false;
    case Lex::lt:
      lex_run_ = 0;
      if (c == '!') return lex_ = Lex::bang, false;
      if (c == '?') return lex_ = Lex::pi, false;
      lex_ = Lex::tag;
      [[fallthrough]];
    case Lex::tag:  // lex_run_: whether the last non-blank byte was '='
      if (c == '\'' || c == '"') {
        lex_ = c == '"' ? Lex::dquote : Lex::squote;
        return lex_run_ == 0;  // a quote that opens no value: let expat refuse it
      }
      if (c == '>') return lex_ = Lex::text, true;
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') lex_run_ = c == '=';
      return false;
    case Lex::squote:
    case Lex::dquote:
      if (c == (lex_ == Lex::squote ? '\'' : '"')) lex_ = Lex::tag, lex_run_ = 0;
      return c == '<';  // never valid in a value: the quotes are off
    case Lex::bang:
      lex_ = c == '-' ? Lex::comment_open : c == '[' ? Lex::cdata : c == '>' ? Lex::text : Lex::other;
      return c == '>';
    case Lex::comment_open:  // "<!-" seen; a comment needs a second '-'
      lex_ = c == '-' ? Lex::comment : c == '>' ? Lex::text : Lex::other;
      return c == '>';
    case Lex::comment:  // ends at "-->"
    case Lex::cdata:    // ends at "]]>"
    case Lex::pi: {     // ends at "?>"
      const char mark = lex_ == Lex::comment ? '-' : lex_ == Lex::cdata ? ']' : '?';
      const bool end = c == '>' && lex_run_ >= (lex_ == Lex::pi ? 1 : 2);
      lex_run_ = c == mark ? std::uint8_t(std::min(lex_run_ + 1, 2)) : 0;
      if (end) lex_ = Lex::text;
      return end;
    }
    case Lex::other:  // a declaration in the prolog, or junk expat will refuse
      if (c == '>') lex_ = Lex::text;
      return c == '>';
  }
  return false;
}

void StreamParser::flush() {
  if (pending_.empty() || stopped_) return;
  if (fed_ == 0) {
    if (pending_.size() < 4) return;  // check_stream_start() needs the first bytes
    check_stream_start();
    if (failed_) return;
  }
  if (parser_ == nullptr) resume_parser();
  in_parse_ = true;
  const XML_Status status = XML_Parse(parser_, pending_.data(), int(pending_.size()), XML_FALSE);
  in_parse_ = false;
  fed_ += pending_.size();
  pending_.clear();
  if (exception_) {
    failed_ = true;
    events_.clear();
    std::exception_ptr e = std::exchange(exception_, nullptr);
    std::rethrow_exception(e);
  }
  if (status == XML_STATUS_ERROR && !stopped_) {
    const XML_Error code = XML_GetErrorCode(parser_);
    if (code == XML_ERROR_INVALID_TOKEN && depth_ > 0 && stack_.empty() &&
        text_before_cdata_end(parser_, base_, consumed_)) {
      return fail("bad-format", "text outside of any stanza");
    }
    const StreamError error = error_for(code);
    fail(error.condition, error.text);
  }
}

// RFC 6120 §11.6: UTF-8 only, and U+FEFF is a zero width no-break space, never a byte order
// mark — so a stream starting with it has text before the root element (not well-formed).
// Expat, told to read UTF-8, would silently skip the mark or misreport UTF-16.
void StreamParser::check_stream_start() {
  auto byte = [&](std::size_t i) { return i < pending_.size() ? int(std::uint8_t(pending_[i])) : -1; };
  const int b0 = byte(0), b1 = byte(1), b2 = byte(2);
  if ((b0 == 0xFE && b1 == 0xFF) || (b0 == 0xFF && b1 == 0xFE) || b0 == 0 || b1 == 0) {
    fail("unsupported-encoding", "the stream must be UTF-8 (RFC 6120 §11.6)");
  } else if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) {
    fail("not-well-formed", "U+FEFF before the stream header (RFC 6120 §11.6)");
  }
}

bool StreamParser::dispatch(std::uint64_t generation) {
  while (next_event_ < events_.size()) {
    Event event = std::move(events_[next_event_++]);
    try {
      if (auto* header = std::get_if<StreamHeader>(&event)) handler_.on_stream_open(*header);
      else if (auto* stanza = std::get_if<Element>(&event)) handler_.on_stanza(std::move(*stanza));
      else if (std::holds_alternative<Close>(event)) handler_.on_stream_close();
      else handler_.on_error(std::move(std::get<StreamError>(event)));
    } catch (...) {
      if (generation_ == generation) {
        failed_ = true;
        events_.clear();
        next_event_ = 0;
      }
      throw;
    }
    if (generation_ != generation) return false;  // reset() by the handler: drop the rest
  }
  events_.clear();
  next_event_ = 0;
  return !failed_ && !closed_;
}

void StreamParser::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (in_parse_) XML_StopParser(parser_, XML_FALSE);
}

void StreamParser::fail(std::string condition, std::string text) {
  if (failed_) return;
  failed_ = true;
  events_.emplace_back(StreamError{std::move(condition), std::move(text)});
  stop();
}

std::uint64_t StreamParser::event_end() const {
  return byte_index() + std::uint64_t(XML_GetCurrentByteCount(parser_));
}

void StreamParser::namespace_decl(const char* prefix, const char* uri) {
  ++ns_decls_;
  if (depth_ != 0) return;  // stanzas keep no prefixes; the serializer re-declares
  const std::string value = uri != nullptr ? uri : "";
  if (prefix == nullptr) {
    header_.content_ns = value;
    return;
  }
  root_prefixes_.emplace_back(prefix, value);
  if (value != kStreamNs) header_.extra_ns.emplace_back(prefix, value);
}

void StreamParser::xml_decl(const char* encoding) {
  consumed_ = event_end();
  if (encoding != nullptr && !equals_ignore_case(encoding, "UTF-8")) {
    fail("unsupported-encoding", "the XML declaration names an encoding other than UTF-8 (RFC 6120 §11.6)");
  }
}

void StreamParser::start_element(const char* name, const char** atts) {
  const std::uint64_t start = byte_index();
  consumed_ = last_start_end_ = event_end();
  std::size_t count = 0;
  for (const char** a = atts; *a != nullptr; a += 2) ++count;
  if (count + std::exchange(ns_decls_, 0) > limits_.max_attributes) {
    return fail("policy-violation", "too many attributes on one element");
  }
  const QName qname = split_name(name);
  if (depth_ == 0) return start_header(qname.ns, qname.local, atts);
  if (stack_.size() >= limits_.max_depth) return fail("policy-violation", "stanza nested too deeply");
  if (stack_.empty()) stanza_start_ = start;
  Element element{std::string(qname.local), std::string(qname.ns)};
  for (const char** a = atts; *a != nullptr; a += 2) {
    const QName attr = split_name(a[0]);
    element.set_attr(std::string(attr.local), std::string(attr.ns), a[1]);
  }
  stack_.push_back(std::move(element));
  ++depth_;
}

void StreamParser::start_header(std::string_view ns, std::string_view local, const char** atts) {
  if (consumed_ > limits_.max_header_bytes) return fail("policy-violation", "stream header too large");
  // RFC 6120 §4.8.1 (stream namespace), §4.8.2 (content namespace), §4.9.3.10.
  if (ns != kStreamNs || local != "stream") {
    return fail("invalid-namespace", "the root element must be <stream/> in http://etherx.jabber.org/streams");
  }
  if (header_.content_ns != content_ns_) {
    return fail("invalid-namespace", "the default namespace of the stream must be " + content_ns_);
  }
  for (const char** a = atts; *a != nullptr; a += 2) {
    const QName attr = split_name(a[0]);
    std::string* field = nullptr;
    if (attr.ns.empty()) {
      if (attr.local == "to") field = &header_.to;
      else if (attr.local == "from") field = &header_.from;
      else if (attr.local == "id") field = &header_.id;
      else if (attr.local == "version") field = &header_.version;
    } else if (attr.ns == kXmlNs && attr.local == "lang") {
      field = &header_.lang;
    }
    if (field != nullptr) *field = a[1];  // RFC 6120 §4.7: unknown attributes are ignored
  }
  // The root's qualified name as written, for resume_parser().
  int offset = 0, size = 0;
  const char* context = XML_GetInputContext(parser_, &offset, &size);
  if (context != nullptr && offset >= 0 && offset < size && context[offset] == '<') {
    const std::string_view tag(context + offset + 1, std::size_t(size - offset - 1));
    root_name_ = tag.substr(0, tag.find_first_of(" \t\r\n/>"));
  }
  depth_ = 1;
  events_.emplace_back(header_);
}

void StreamParser::end_element() {
  // Expat reports a zero-length end event for an empty-element tag; it ends with the tag.
  const std::uint64_t end = XML_GetCurrentByteCount(parser_) == 0 ? last_start_end_ : event_end();
  consumed_ = end;
  if (stack_.empty()) {  // </stream:stream>, RFC 6120 §4.4
    closed_ = true;
    events_.emplace_back(Close{});
    return stop();
  }
  Element element = std::move(stack_.back());
  stack_.pop_back();
  --depth_;
  if (!stack_.empty()) {
    stack_.back().add_child(std::move(element));
  } else if (end - stanza_start_ > limits_.max_stanza_bytes) {
    fail("policy-violation", "stanza too large");
  } else {
    events_.emplace_back(std::move(element));
  }
}

void StreamParser::character_data(std::string_view data) {
  consumed_ = event_end();
  if (!stack_.empty()) return stack_.back().add_text(std::string(data));
  // Between stanzas only whitespace (keepalives, RFC 6120 §11.7) may appear. Other text is
  // well-formed XML that XMPP cannot process: bad-format (RFC 6120 §4.9.3.1).
  if (!is_xml_space(data)) fail("bad-format", "text outside of any stanza");
}

}  // namespace parley::server::xml
