#pragma once
// Writing XMPP streams: elements, the stream header and footer, stream errors
// (RFC 6120 §4.2, §4.4, §4.9, §11).
//
// Output conventions:
// - Values are quoted with '; text escapes & < > (and \r as &#13;, so it survives the
//   reader's line-end normalisation); attribute values escape & < > " ' and \t \n \r as
//   character references, so they round-trip exactly (XML 1.0 §3.3.3).
// - A default namespace declaration is written only where an element's namespace differs
//   from its parent's; the parent of the top element is the stream's content namespace
//   `stream_ns` ("" outside a stream).
// - Elements of the stream namespace are written with the customary prefix "stream"
//   (RFC 6120 §4.8.5; many clients match "stream:features" literally), bound by the stream
//   header; outside a stream (`stream_ns` empty) the prefix is declared on the element.
// - xml:lang is written as xml:lang; any other qualified attribute gets a prefix ns1, ns2, ...
//   declared on its element.
// - Characters that XML 1.0 forbids (C0 controls other than \t \n \r) are dropped, so the
//   output is always well-formed; parsed elements never contain them.
//
// Thread-safety: pure functions, callable from any thread.

#include <string>
#include <string_view>

#include "server/xml/element.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::server::xml {

/// `element` as XML, written into a stream whose content namespace is `stream_ns`.
std::string serialize(const Element& element, std::string_view stream_ns = "");
/// Appends `element` as XML to `out` (for write queues that batch stanzas).
void serialize_to(std::string& out, const Element& element, std::string_view stream_ns);

/// The XML declaration and <stream:stream ...> open tag (RFC 6120 §4.7):
/// <?xml version='1.0'?><stream:stream xmlns='jabber:client'
///  xmlns:stream='http://etherx.jabber.org/streams' [xmlns:db=...] [from] [to] [id] [xml:lang]
///  version='1.0'>. content_ns defaults to jabber:client, version to 1.0.
std::string stream_header(const StreamHeader& header);
/// "</stream:stream>" (RFC 6120 §4.4).
std::string stream_footer();
/// <stream:error><condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text ...
/// xml:lang='en'>text</text>]</stream:error> (RFC 6120 §4.9.2), for writing into an open
/// stream. `condition` is an RFC 6120 §4.9.3 name such as "not-well-formed".
std::string stream_error(std::string_view condition, std::string_view text = {});

/// Appends `text` escaped as character data / as an attribute value (without quotes).
void append_escaped_text(std::string& out, std::string_view text);
void append_escaped_attr(std::string& out, std::string_view value);

}  // namespace parley::server::xml
