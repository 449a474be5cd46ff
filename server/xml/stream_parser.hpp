#pragma once
// Incremental parser for one XMPP stream (RFC 6120 §4), built on expat in namespace mode.
// It turns the bytes read from a connection into: the stream header, one Element per
// top-level child of the stream (stanzas, <stream:features/>, <starttls/>, <auth/>, ...),
// the stream close, or a single stream error (RFC 6120 §4.9.3) — and nothing after that.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "server/xml/element.hpp"

struct XML_ParserStruct;

namespace parley::server::xml {

/// The attributes of a <stream:stream> open tag (RFC 6120 §4.7) and its namespace
/// declarations. Produced by StreamParser, written by stream_header() (serializer.hpp).
/// A plain value.
struct StreamHeader {
  std::string to, from, id, version, lang;
  /// The default namespace: "jabber:client" or "jabber:server" (RFC 6120 §4.8.2).
  std::string content_ns;
  /// Other prefixed declarations besides xmlns:stream, e.g. {"db", "jabber:server:dialback"}.
  std::vector<std::pair<std::string, std::string>> extra_ns;

  bool operator==(const StreamHeader&) const = default;
};

/// A stream-level error detected in the input: what the session must send as
/// <stream:error/> before closing (RFC 6120 §4.9). A plain value.
struct StreamError {
  /// The RFC 6120 §4.9.3 condition name: "not-well-formed", "restricted-xml",
  /// "invalid-namespace", "policy-violation", "bad-format", "unsupported-encoding", ...
  std::string condition;
  /// A short English explanation for the peer and the log; never contains input bytes.
  std::string text;

  bool operator==(const StreamError&) const = default;
};

/// Resource bounds for one stream (local service policy, RFC 6120 §4.9.3.14 and §13.12).
/// A stanza's size is the byte count from the '<' of its open tag to the '>' of its close
/// tag; the header's is the byte count from the first byte of the stream to the '>' of
/// <stream:stream ...>. Depth counts element levels inside a stanza (the stanza itself is
/// level 1). Namespace declarations count as attributes. max_header_bytes is capped at
/// max_stanza_bytes.
struct StreamLimits {
  std::size_t max_stanza_bytes = 256 * 1024;
  std::size_t max_depth = 64;
  std::size_t max_attributes = 64;
  std::size_t max_header_bytes = 4096;
};

/// Parses one direction of an XMPP stream, incrementally, byte chunks in, events out.
///
/// Guarantees, for any way the input is split into feed() calls: the same events in the
/// same order; a complete stanza is refused (policy-violation) iff its size exceeds
/// max_stanza_bytes; no more than about max_stanza_bytes of input is ever held for an
/// unfinished stanza, so a 10 MB stanza is refused after ~max_stanza_bytes, not at its end.
/// Restricted XML (RFC 6120 §11.1: DTDs, entity declarations and references other than the
/// five predefined ones, comments, processing instructions) is refused; no entity is ever
/// expanded. The first error ends the stream: it is reported once, later input is ignored.
/// Every stanza is delivered by the feed() call that carries its last byte. An error inside
/// a stanza may be reported only once more input has arrived (typically when the next tag
/// ends; at the latest when the size limit is reached), never differently.
///
/// Between stanzas, once everything received has been parsed, the expat parser and the input
/// buffers are freed (about 10 KiB per idle connection); the next byte sets up a new expat
/// parser in the stream's namespace context. This is invisible in the events.
///
/// Events are delivered to the Handler from inside feed(), after expat has returned (no
/// handler code runs inside expat). A handler may call reset() (see there) but must not call
/// feed() or destroy the parser. An exception thrown by a handler leaves the parser failed
/// and propagates out of feed().
///
/// Thread-safety: none; one parser belongs to one connection and is used by one thread
/// (strand) at a time.
class StreamParser {
 public:
  using Limits = StreamLimits;

  /// Receives the parser's events. on_error is called at most once, and is the last event.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_stream_open(const StreamHeader& header) = 0;
    virtual void on_stanza(Element&& stanza) = 0;
    virtual void on_stream_close() = 0;
    virtual void on_error(StreamError error) = 0;
  };

  /// `content_ns` is the default namespace the stream must declare: kClientNs for c2s,
  /// kServerNs for s2s; a different one is refused with invalid-namespace (RFC 6120 §4.8.2).
  StreamParser(Handler& handler, std::string content_ns, Limits limits);
  explicit StreamParser(Handler& handler, std::string content_ns = std::string(kClientNs));
  ~StreamParser();
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  /// Parses what it can of `bytes` and delivers the resulting events. Returns false once an
  /// error has been reported (by this call or an earlier one); input is then ignored. Input
  /// after the stream close is ignored too (returns true). If a handler calls reset(), the
  /// rest of `bytes` is discarded: after STARTTLS or SASL success the peer must wait for the
  /// server's answer before sending the new stream (RFC 6120 §5.4.3.3, §6.4.6), and bytes
  /// pipelined before TLS must never be read as part of the protected stream.
  bool feed(std::string_view bytes);

  /// Forgets all state and expects a fresh stream header (stream restart after STARTTLS,
  /// RFC 6120 §5.4.3.3, and after SASL success, §6.4.6). Safe to call from a handler.
  void reset();

  /// Bytes received and held for the current unfinished stanza (or header), at most about
  /// max_stanza_bytes (max_header_bytes before the header).
  std::size_t bytes_buffered() const noexcept;
  /// Whether an error has been reported.
  bool failed() const noexcept { return failed_; }
  /// Whether to free the expat parser between stanzas (on by default). Off, the parser
  /// is kept for the next stanza: for streams that are busy or short-lived, where re-creating
  /// it would cost more than the memory it holds. Turned on between stanzas, it frees the
  /// parser at once. May be called from a handler.
  void set_release_when_idle(bool on) noexcept;
  /// Whether the expat parser is currently freed (idle between stanzas, see above).
  bool released() const noexcept { return parser_ == nullptr; }
  /// Whether the stream header has been received (and the stream not yet closed).
  bool stream_open() const noexcept { return depth_ > 0 && !closed_; }

 private:
  struct Close {};
  using Event = std::variant<StreamHeader, Element, Close, StreamError>;
  struct Callbacks;  // expat handlers, in the .cpp
  friend struct Callbacks;

  // Where the lexical scanner is; see scan() in the .cpp.
  enum class Lex : std::uint8_t { text, lt, tag, squote, dquote, bang, comment_open, comment,
                                  cdata, pi, other };

  void create_parser();
  void configure_parser();
  void set_handlers();
  void resume_parser();
  void release_if_idle();
  std::uint64_t byte_index() const;
  bool scan(std::string_view chunk);
  bool lex(char c);
  std::uint64_t unit_start() const noexcept;
  std::uint64_t unit_limit() const noexcept;
  void flush();
  void check_stream_start();
  bool dispatch(std::uint64_t generation);
  void stop();
  void fail(std::string condition, std::string text);
  std::uint64_t event_end() const;

  // Expat callbacks (called through Callbacks).
  void start_element(const char* name, const char** atts);
  void end_element();
  void character_data(std::string_view data);
  void namespace_decl(const char* prefix, const char* uri);
  void xml_decl(const char* encoding);
  void start_header(std::string_view ns, std::string_view local, const char** atts);

  Handler& handler_;
  std::string content_ns_;
  Limits limits_;
  XML_ParserStruct* parser_ = nullptr;  // null between stanzas while idle
  // Stream offset of expat's byte 0: a resumed parser first reads a synthetic root tag.
  std::int64_t base_ = 0;

  // Input bookkeeping; offsets count bytes from the start of the current stream.
  std::string pending_;           // received, not yet given to expat
  std::uint64_t fed_ = 0;         // bytes given to expat
  std::uint64_t consumed_ = 0;    // end offset of the last event expat reported
  std::uint64_t stanza_start_ = 0;
  std::uint64_t last_start_end_ = 0;  // end offset of the last open tag (for empty elements)
  Lex lex_ = Lex::text;
  std::uint8_t lex_run_ = 0;      // tag: '=' just seen; comment/CDATA/PI: '-' / ']' / '?' run

  // Tree building.
  std::size_t depth_ = 0;         // open elements, the stream root included
  std::vector<Element> stack_;    // open elements of the current stanza
  std::size_t ns_decls_ = 0;      // namespace declarations seen for the next open tag
  StreamHeader header_;
  // Every prefixed declaration of the root (the stream's own prefix included), to set up a
  // resumed parser in the same context.
  std::vector<std::pair<std::string, std::string>> root_prefixes_;
  std::string root_name_;         // e.g. "stream:stream"; empty: the parser is never released

  // Outcome.
  std::vector<Event> events_;     // reported by expat, delivered from next_event_ on
  std::size_t next_event_ = 0;
  std::exception_ptr exception_;  // thrown inside an expat callback, rethrown by feed()
  bool in_parse_ = false;         // inside XML_Parse
  bool stopped_ = false;          // expat was stopped (error, close, exception)
  bool failed_ = false;
  bool closed_ = false;
  std::uint64_t generation_ = 0;  // incremented by reset()
  bool release_idle_ = true;
};

}  // namespace parley::server::xml
