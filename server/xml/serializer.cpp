#include "server/xml/serializer.hpp"

#include <algorithm>
#include <vector>

namespace parley::server::xml {
namespace {

void append_escaped(std::string& out, std::string_view s, bool in_attribute) {
  std::size_t run = 0;  // start of the pending run of bytes copied as they are
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const char* replacement = nullptr;
    switch (c) {
      case '&': replacement = "&amp;"; break;
      case '<': replacement = "&lt;"; break;
      case '>': replacement = "&gt;"; break;
      case '\r': replacement = "&#13;"; break;
      case '"': replacement = in_attribute ? "&quot;" : nullptr; break;
      case '\'': replacement = in_attribute ? "&apos;" : nullptr; break;
      // An attribute value's whitespace is normalised to spaces on reading (XML 1.0 §3.3.3)
      // unless written as references.
      case '\t': replacement = in_attribute ? "&#9;" : nullptr; break;
      case '\n': replacement = in_attribute ? "&#10;" : nullptr; break;
      default: replacement = c < 0x20 ? "" : nullptr; break;  // not an XML 1.0 Char: dropped
    }
    if (replacement == nullptr) continue;
    out.append(s.data() + run, i - run);
    out += replacement;
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void append_attr(std::string& out, std::string_view qname, std::string_view value) {
  out += ' ';
  out += qname;
  out += "='";
  append_escaped_attr(out, value);
  out += '\'';
}

// Attributes of one element. Qualified ones other than xml:* get a prefix ns1, ns2, ...
// declared on this very element, so no prefix ever needs to be tracked across elements.
void write_attributes(std::string& out, const Element& element) {
  std::vector<std::string_view> prefixed;  // namespace of prefix "ns<i+1>"
  for (const Attribute& a : element.attributes()) {
    std::string qname;
    if (a.ns == kXmlNs) {
      qname = "xml:";
    } else if (!a.ns.empty()) {
      auto it = std::find(prefixed.begin(), prefixed.end(), a.ns);
      const std::string prefix = "ns" + std::to_string(it - prefixed.begin() + 1);
      if (it == prefixed.end()) {
        prefixed.push_back(a.ns);
        append_attr(out, "xmlns:" + prefix, a.ns);
      }
      qname = prefix + ':';
    }
    qname += a.name;
    append_attr(out, qname, a.value);
  }
}

// `parent_ns` is the default namespace in scope; `stream_bound` whether the prefix "stream"
// is bound to the stream namespace.
void write_element(std::string& out, const Element& e, std::string_view parent_ns, bool stream_bound) {
  const bool in_stream_ns = e.ns() == kStreamNs;
  std::string_view default_ns = e.ns();
  out += '<';
  if (in_stream_ns) {
    out += "stream:";
    out += e.name();
    default_ns = parent_ns;  // a prefixed element leaves the default namespace alone
    if (!stream_bound) append_attr(out, "xmlns:stream", kStreamNs);
    stream_bound = true;
  } else {
    out += e.name();
    if (e.ns() != parent_ns) append_attr(out, "xmlns", e.ns());
  }
  write_attributes(out, e);
  if (e.nodes().empty()) {
    out += "/>";
    return;
  }
  out += '>';
  for (const Node& node : e.nodes()) {
    if (node.is_text()) append_escaped_text(out, node.text());
    else write_element(out, node.element(), default_ns, stream_bound);
  }
  out += "</";
  if (in_stream_ns) out += "stream:";
  out += e.name();
  out += '>';
}

}  // namespace

void append_escaped_text(std::string& out, std::string_view text) { append_escaped(out, text, false); }

void append_escaped_attr(std::string& out, std::string_view value) { append_escaped(out, value, true); }

void serialize_to(std::string& out, const Element& element, std::string_view stream_ns) {
  write_element(out, element, stream_ns, !stream_ns.empty());
}

std::string serialize(const Element& element, std::string_view stream_ns) {
  std::string out;
  serialize_to(out, element, stream_ns);
  return out;
}

std::string stream_header(const StreamHeader& header) {
  std::string out = "<?xml version='1.0'?><stream:stream";
  append_attr(out, "xmlns", header.content_ns.empty() ? kClientNs : std::string_view(header.content_ns));
  append_attr(out, "xmlns:stream", kStreamNs);
  for (const auto& [prefix, uri] : header.extra_ns) append_attr(out, "xmlns:" + prefix, uri);
  if (!header.from.empty()) append_attr(out, "from", header.from);
  if (!header.to.empty()) append_attr(out, "to", header.to);
  if (!header.id.empty()) append_attr(out, "id", header.id);
  if (!header.lang.empty()) append_attr(out, "xml:lang", header.lang);
  append_attr(out, "version", header.version.empty() ? std::string_view("1.0") : std::string_view(header.version));
  out += '>';
  return out;
}

std::string stream_footer() { return "</stream:stream>"; }

std::string stream_error(std::string_view condition, std::string_view text) {
  Element error("error", std::string(kStreamNs));
  error.add_child(std::string(condition), std::string(kStreamErrorNs));
  if (!text.empty()) {
    Element& description = error.add_child("text", std::string(kStreamErrorNs));
    description.set_attr("lang", std::string(kXmlNs), "en");  // our texts are English
    description.add_text(std::string(text));
  }
  // Inside a stream the default namespace is jabber:client or jabber:server; neither is
  // used below <stream:error/>, so the output is the same for both.
  return serialize(error, kClientNs);
}

}  // namespace parley::server::xml
