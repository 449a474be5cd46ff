#include "modules/private/xml_text.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace parley::modules::private_storage {
namespace {

using server::xml::Element;
using server::xml::kXmlNs;

constexpr std::string_view kXmlnsNs = "http://www.w3.org/2000/xmlns/";
constexpr int kMaxDepth = 128;

// XML 1.0 §2.2: C0 controls other than tab, newline and carriage return cannot appear.
bool forbidden(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

void escape_text(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\r': out += "&#13;"; break;  // survives a reader's line-end normalisation
      default:
        if (!forbidden(c)) out += c;
    }
  }
}

void escape_attr(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      case '\t': out += "&#9;"; break;  // XML 1.0 §3.3.3: attribute values are normalised
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (!forbidden(c)) out += c;
    }
  }
}

void write_element(std::string& out, const Element& e, std::string_view parent_ns, bool root) {
  out += '<';
  out += e.name();
  if (root || e.ns() != parent_ns) {
    out += " xmlns='";
    escape_attr(out, e.ns());
    out += '\'';
  }
  int prefixes = 0;
  for (const auto& a : e.attributes()) {
    if ((a.ns.empty() && a.name == "xmlns") || a.ns == kXmlnsNs) continue;  // declarations are ours
    out += ' ';
    if (a.ns == kXmlNs) {
      out += "xml:";
    } else if (!a.ns.empty()) {
      std::string prefix = "ns" + std::to_string(++prefixes);
      out += "xmlns:" + prefix + "='";
      escape_attr(out, a.ns);
      out += "' " + prefix + ":";
    }
    out += a.name;
    out += "='";
    escape_attr(out, a.value);
    out += '\'';
  }
  if (e.nodes().empty()) {
    out += "/>";
    return;
  }
  out += '>';
  for (const auto& node : e.nodes()) {
    if (node.is_text()) {
      escape_text(out, node.text());
    } else {
      write_element(out, node.element(), e.ns(), false);
    }
  }
  out += "</";
  out += e.name();
  out += '>';
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A recursive-descent reader for what write_element() produces.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::optional<Element> document() {
    auto root = element("", 0);
    if (!root) return std::nullopt;
    skip_space();
    if (i_ != s_.size()) return std::nullopt;
    return root;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c || at_end()) return false;
    ++i_;
    return true;
  }
  void skip_space() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  static bool name_char(char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '/' && c != '>' && c != '<' && c != '=' &&
           c != '\'' && c != '"' && c != '&' && c != '\0';
  }
  std::string_view name() {
    std::size_t start = i_;
    while (!at_end() && name_char(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  // Decodes character data up to `stop` (excluded); false on a bad reference or '<' in a value.
  bool decode(std::string& out, char stop) {
    while (!at_end() && s_[i_] != stop) {
      char c = s_[i_];
      if (c == '<') return false;
      if (c != '&') {
        if (forbidden(c)) return false;
        out += c;
        ++i_;
        continue;
      }
      std::size_t semi = s_.find(';', i_);
      if (semi == std::string_view::npos || semi - i_ > 10) return false;
      std::string_view ref = s_.substr(i_ + 1, semi - i_ - 1);
      i_ = semi + 1;
      if (ref == "amp") out += '&';
      else if (ref == "lt") out += '<';
      else if (ref == "gt") out += '>';
      else if (ref == "quot") out += '"';
      else if (ref == "apos") out += '\'';
      else if (ref.size() >= 2 && ref[0] == '#') {
        std::uint32_t cp = 0;
        bool hex = ref[1] == 'x';
        std::string_view digits = ref.substr(hex ? 2 : 1);
        if (digits.empty()) return false;
        for (char d : digits) {
          std::uint32_t v;
          if (d >= '0' && d <= '9') v = static_cast<std::uint32_t>(d - '0');
          else if (hex && d >= 'a' && d <= 'f') v = static_cast<std::uint32_t>(d - 'a' + 10);
          else if (hex && d >= 'A' && d <= 'F') v = static_cast<std::uint32_t>(d - 'A' + 10);
          else return false;
          cp = cp * (hex ? 16 : 10) + v;
          if (cp > 0x10FFFF) return false;
        }
        bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp < 0xD800) ||
                       (cp >= 0xE000 && cp <= 0x10FFFF && cp != 0xFFFE && cp != 0xFFFF);
        if (!allowed) return false;
        append_utf8(out, cp);
      } else {
        return false;
      }
    }
    return true;
  }

  std::optional<std::string> lookup(std::string_view prefix) const {
    if (prefix == "xml") return std::string(kXmlNs);
    for (auto it = prefixes_.rbegin(); it != prefixes_.rend(); ++it) {
      if (it->first == prefix) return it->second;
    }
    return std::nullopt;
  }

  std::optional<Element> element(std::string_view parent_ns, int depth) {
    if (depth >= kMaxDepth || !eat('<')) return std::nullopt;
    std::string_view tag = name();
    // Element names are written unprefixed; '!' and '?' would start a comment, CDATA, a DTD
    // or a processing instruction, none of which are written.
    if (tag.empty() || tag.front() == '!' || tag.front() == '?' || tag.find(':') != std::string_view::npos) {
      return std::nullopt;
    }
    std::string ns(parent_ns);
    std::size_t declared = 0;
    std::vector<std::pair<std::string_view, std::string>> raw;  // qualified name, value
    bool empty = false;
    for (;;) {
      skip_space();
      if (eat('/')) {
        if (!eat('>')) return pop(declared);
        empty = true;
        break;
      }
      if (eat('>')) break;
      std::string_view qname = name();
      skip_space();
      if (qname.empty() || !eat('=')) return pop(declared);
      skip_space();
      char quote = peek();
      if (quote != '\'' && quote != '"') return pop(declared);
      ++i_;
      std::string value;
      if (!decode(value, quote) || !eat(quote)) return pop(declared);
      if (qname == "xmlns") {
        ns = std::move(value);
      } else if (qname.starts_with("xmlns:")) {
        prefixes_.emplace_back(std::string(qname.substr(6)), std::move(value));
        ++declared;
      } else {
        raw.emplace_back(qname, std::move(value));
      }
    }
    Element e{std::string(tag), ns};
    for (auto& [qname, value] : raw) {
      auto colon = qname.find(':');
      if (colon == std::string_view::npos) {
        e.set_attr(std::string(qname), std::move(value));
        continue;
      }
      auto uri = lookup(qname.substr(0, colon));
      std::string local(qname.substr(colon + 1));
      if (!uri || local.empty()) return pop(declared);
      e.set_attr(std::move(local), std::move(*uri), std::move(value));
    }
    if (!empty) {
      for (;;) {
        if (at_end()) return pop(declared);
        if (s_[i_] != '<') {
          std::string text;
          if (!decode(text, '<')) return pop(declared);
          e.add_text(std::move(text));
          continue;
        }
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
          i_ += 2;
          std::string_view closing = name();
          skip_space();
          if (closing != tag || !eat('>')) return pop(declared);
          break;
        }
        auto child = element(e.ns(), depth + 1);
        if (!child) return pop(declared);
        e.add_child(std::move(*child));
      }
    }
    pop(declared);
    return e;
  }

  // Forgets the prefixes an element declared; returns nullopt for the failure paths.
  std::optional<Element> pop(std::size_t declared) {
    prefixes_.resize(prefixes_.size() - declared);
    return std::nullopt;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::vector<std::pair<std::string, std::string>> prefixes_;
};

}  // namespace

std::string write_xml(const Element& element) {
  std::string out;
  write_element(out, element, "", true);
  return out;
}

std::optional<Element> read_xml(std::string_view text) {
  return Reader(text).document();
}

}  // namespace parley::modules::private_storage
