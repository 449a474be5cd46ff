// libFuzzer target: the incremental XMPP stream parser (server/xml/stream_parser.hpp).
//
// Input: byte 0 chooses the mode, byte 1 seeds the chunk sizes, the rest is the stream.
//   mode bit 0     content namespace: jabber:client (0) or jabber:server (1)
//   mode bit 1     prepend a well-formed stream header for that namespace
//   mode bit 2     small limits (stanza 300 bytes, depth 4, 4 attributes), to reach them
//   mode bits 3-7  largest chunk: 1 + 8 * value bytes (0: byte by byte)
//
// What it asserts, from the parser's header comment:
// - the events are the same whether the stream is fed whole or split into chunks; the one
//   allowed difference is an error that one run has seen and the other has not yet (an
//   error inside a stanza may be reported only once more input has arrived);
// - on_error comes at most once and is the last event, nothing follows on_stream_close, the
//   header comes first and once; feed() returns false exactly once an error was reported;
// - no more than about one limit's worth of input is held; delivered stanzas respect the
//   depth and attribute limits;
// - what the serializer writes (serializer.hpp) reads back as the same header and stanzas;
// - a handler may reset() the parser or throw from inside feed() (STARTTLS, SASL success).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "server/xml/element.hpp"
#include "server/xml/serializer.hpp"
#include "server/xml/stream_parser.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using parley::server::xml::Element;
using parley::server::xml::StreamError;
using parley::server::xml::StreamHeader;
using parley::server::xml::StreamLimits;
using parley::server::xml::StreamParser;
namespace xml = parley::server::xml;

std::size_t depth_of(const Element& e) {
  std::size_t deepest = 0;
  for (const Element& child : e.children()) deepest = std::max(deepest, depth_of(child));
  return deepest + 1;
}

bool attributes_within(const Element& e, std::size_t max) {
  if (e.attributes().size() > max) return false;
  for (const Element& child : e.children()) {
    if (!attributes_within(child, max)) return false;
  }
  return true;
}

// Records every event as one line (stanzas serialized) and checks the event order.
class Recorder : public StreamParser::Handler {
 public:
  Recorder(std::string content_ns, StreamLimits limits) : ns_(std::move(content_ns)), limits_(limits) {}

  void on_stream_open(const StreamHeader& h) override {
    check_open_for_more();
    FUZZ_CHECK(!opened_, "a second stream header without reset()");
    FUZZ_CHECK(h.content_ns == ns_, "header with content namespace '%s'", h.content_ns.c_str());
    opened_ = true;
    std::string line = "open to=" + h.to + " from=" + h.from + " id=" + h.id + " version=" + h.version +
                       " lang=" + h.lang + " ns=" + h.content_ns;
    for (const auto& [prefix, uri] : h.extra_ns) line += " xmlns:" + prefix + "=" + uri;
    events.push_back(std::move(line));
    header = h;
  }
  void on_stanza(Element&& stanza) override {
    check_open_for_more();
    FUZZ_CHECK(opened_, "a stanza before the stream header");
    FUZZ_CHECK(depth_of(stanza) <= limits_.max_depth, "stanza deeper than max_depth");
    FUZZ_CHECK(attributes_within(stanza, limits_.max_attributes), "more attributes than max_attributes");
    events.push_back("stanza " + xml::serialize(stanza, ns_));
    stanzas.push_back(std::move(stanza));
  }
  void on_stream_close() override {
    check_open_for_more();
    FUZZ_CHECK(opened_, "a stream close before the stream header");
    closed_ = true;
    events.push_back("close");
  }
  void on_error(StreamError error) override {
    check_open_for_more();
    FUZZ_CHECK(!error.condition.empty(), "an error without a condition");
    failed_ = true;
    events.push_back("error " + error.condition + " (" + error.text + ")");
  }

  bool failed() const { return failed_; }

  std::vector<std::string> events;
  std::optional<StreamHeader> header;
  std::vector<Element> stanzas;

 private:
  void check_open_for_more() const {
    FUZZ_CHECK(!failed_, "an event after on_error");
    FUZZ_CHECK(!closed_, "an event after on_stream_close");
  }

  std::string ns_;
  StreamLimits limits_;
  bool opened_ = false;
  bool closed_ = false;
  bool failed_ = false;
};

// Feeds `input` in the given chunks, checking what feed() promises after each call.
Recorder run(std::string_view input, const std::vector<std::size_t>& chunks, const std::string& ns,
             StreamLimits limits) {
  Recorder recorder(ns, limits);
  StreamParser parser(recorder, ns, limits);
  const std::size_t held_max = std::max(limits.max_stanza_bytes, limits.max_header_bytes) + 1;
  std::size_t at = 0;
  for (std::size_t n : chunks) {
    const bool ok = parser.feed(input.substr(at, n));
    at += n;
    FUZZ_CHECK(ok == !recorder.failed(), "feed() returned %d with%s an error reported", int(ok),
               recorder.failed() ? "" : "out");
    FUZZ_CHECK(parser.failed() == recorder.failed(), "failed() disagrees with the events");
    if (!parser.failed()) {
      FUZZ_CHECK(parser.bytes_buffered() <= held_max, "%zu bytes held, limit %zu", parser.bytes_buffered(),
                 held_max);
    }
  }
  return recorder;
}

std::string events_text(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) out += "  " + e.substr(0, 300) + "\n";
  return out;
}

bool is_error(const std::string& event) { return event.starts_with("error "); }

// Equal, or equal but for one trailing error that only one run has reported yet.
bool same_events(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a == b) return true;
  const auto& longer = a.size() > b.size() ? a : b;
  const auto& shorter = a.size() > b.size() ? b : a;
  return longer.size() == shorter.size() + 1 && is_error(longer.back()) &&
         std::equal(shorter.begin(), shorter.end(), longer.begin());
}

// What the serializer writes for a parsed header and stanza reads back the same.
void check_round_trip(const Recorder& recorder, const std::string& ns) {
  if (!recorder.header) return;
  StreamHeader header = *recorder.header;
  std::string text = xml::stream_header(header);
  for (const Element& stanza : recorder.stanzas) text += xml::serialize(stanza, ns);
  const StreamLimits roomy{1 << 24, 1 << 10, 1 << 10, 1 << 24};
  Recorder again(ns, roomy);
  StreamParser parser(again, ns, roomy);
  parser.feed(text);
  FUZZ_CHECK(!again.failed(), "serialized output does not parse back:\n%s\n%s", text.substr(0, 2000).c_str(),
             events_text(again.events).c_str());
  if (header.version.empty()) header.version = "1.0";  // stream_header()'s default
  FUZZ_CHECK(again.header && *again.header == header, "the header does not round-trip:\n%s",
             text.substr(0, 2000).c_str());
  FUZZ_CHECK(again.stanzas == recorder.stanzas, "a stanza does not round-trip:\n%s", text.substr(0, 2000).c_str());
}

// A handler that does what sessions do: restart the stream on <starttls/> (after TLS) and
// <success/> (after SASL), and throw on a stanza named "throw".
class Restarter : public StreamParser::Handler {
 public:
  StreamParser* parser = nullptr;
  int resets = 0;
  void on_stream_open(const StreamHeader&) override {}
  void on_stanza(Element&& stanza) override {
    if ((stanza.name() == "starttls" || stanza.name() == "success") && resets < 4) {
      ++resets;
      parser->reset();
      FUZZ_CHECK(!parser->stream_open() && !parser->failed(), "reset() left state behind");
    } else if (stanza.name() == "throw") {
      throw std::runtime_error("handler failure");
    }
  }
  void on_stream_close() override {}
  void on_error(StreamError) override {}
};

void run_with_restarts(std::string_view input, const std::vector<std::size_t>& chunks, const std::string& ns,
                       StreamLimits limits) {
  Restarter handler;
  StreamParser parser(handler, ns, limits);
  handler.parser = &parser;
  std::size_t at = 0;
  for (std::size_t n : chunks) {
    try {
      parser.feed(input.substr(at, n));
    } catch (const std::runtime_error&) {
      // An exception thrown by a handler leaves the parser failed (stream_parser.hpp).
      FUZZ_CHECK(parser.failed(), "not failed after a handler threw");
      FUZZ_CHECK(!parser.feed("<presence/>"), "feed() accepted input after a handler threw");
      return;
    }
    at += n;
  }
}

constexpr std::string_view kClientHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>";
constexpr std::string_view kServerHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "from='example.org' to='example.net' version='1.0'>";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  std::uint32_t seed = 0x9E3779B9u ^ (std::uint32_t(data[1]) << 8) ^ mode;
  const bool server = (mode & 1) != 0;
  const std::string ns(server ? xml::kServerNs : xml::kClientNs);
  std::string input;
  if ((mode & 2) != 0) input = server ? kServerHeader : kClientHeader;
  input.append(reinterpret_cast<const char*>(data) + 2, size - 2);
  StreamLimits limits;
  if ((mode & 4) != 0) limits = StreamLimits{300, 4, 4, 256};
  const std::size_t max_chunk = 1 + 8 * std::size_t(mode >> 3);

  std::vector<std::size_t> chunks;
  for (std::size_t left = input.size(); left > 0;) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;  // xorshift32
    const std::size_t n = std::min<std::size_t>(left, 1 + seed % max_chunk);
    chunks.push_back(n);
    left -= n;
  }

  const Recorder whole = run(input, {input.size()}, ns, limits);
  const Recorder split = run(input, chunks, ns, limits);
  FUZZ_CHECK(same_events(whole.events, split.events), "fed whole:\n%sfed in %zu chunks of at most %zu:\n%s",
             events_text(whole.events).c_str(), chunks.size(), max_chunk, events_text(split.events).c_str());
  check_round_trip(whole, ns);
  run_with_restarts(input, chunks, ns, limits);
  return 0;
}
