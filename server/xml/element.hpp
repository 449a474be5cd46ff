#pragma once
// The element tree that stanzas are made of (RFC 6120 §4.1, §8): names and attribute names
// are kept as {namespace URI, local name}; prefixes are a serialisation detail and are not
// stored (the serializer re-creates declarations, serializer.hpp).

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::server::xml {

/// Namespace names the XMPP core uses (RFC 6120 §4.8, §4.9.2, §11.2; XML Namespaces §3).
inline constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";
inline constexpr std::string_view kStreamNs = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kClientNs = "jabber:client";
inline constexpr std::string_view kServerNs = "jabber:server";
inline constexpr std::string_view kStreamErrorNs = "urn:ietf:params:xml:ns:xmpp-streams";

/// One attribute of an element: local name, namespace URI ("" for an unqualified attribute,
/// kXmlNs for xml:lang) and value (unescaped). A plain value; see Element for thread-safety.
struct Attribute {
  std::string name;
  std::string ns;
  std::string value;

  bool operator==(const Attribute&) const = default;
};

class Node;

template <typename NodePtr, typename Elem>
class ElementIterator;

/// A forward range over the element children of an element (text nodes skipped).
template <typename Iterator>
class ElementRange {
 public:
  ElementRange(Iterator first, Iterator last) : first_(first), last_(last) {}
  Iterator begin() const { return first_; }
  Iterator end() const { return last_; }
  bool empty() const { return first_ == last_; }

 private:
  Iterator first_;
  Iterator last_;
};

/// A namespace-aware XML element: a stanza or any part of one.
///
/// A plain value type: copyable and cheaply movable, with no shared state, so it is
/// thread-compatible like std::string — concurrent const access is safe, any mutation needs
/// exclusive access. References and pointers returned by add_child()/find_child() and
/// iterators from children()/nodes() stay valid until this element's node list next changes.
/// Nothing throws except std::bad_alloc.
class Element {
 public:
  using Iterator = ElementIterator<Node*, Element>;
  using ConstIterator = ElementIterator<const Node*, const Element>;

  Element(std::string name, std::string ns);

  const std::string& name() const noexcept { return name_; }
  const std::string& ns() const noexcept { return ns_; }

  /// Value of the unqualified attribute `name` (like 'to', 'type'), if present.
  std::optional<std::string_view> attr(std::string_view name) const;
  /// Value of the attribute {ns}name (e.g. attr("lang", kXmlNs) for xml:lang), if present.
  std::optional<std::string_view> attr(std::string_view name, std::string_view ns) const;
  /// Sets (replaces or appends) the unqualified attribute `name`.
  void set_attr(std::string name, std::string value);
  /// Sets (replaces or appends) the attribute {ns}name.
  void set_attr(std::string name, std::string ns, std::string value);
  /// Removes the unqualified attribute `name`; returns whether it was there.
  bool remove_attr(std::string_view name);
  /// Removes the attribute {ns}name; returns whether it was there.
  bool remove_attr(std::string_view name, std::string_view ns);
  /// All attributes, in document (or insertion) order.
  const std::vector<Attribute>& attributes() const noexcept { return attrs_; }

  /// Appends `child` and returns a reference to it (valid until the node list next changes).
  Element& add_child(Element child);
  /// Appends a new empty child {ns}name and returns it.
  Element& add_child(std::string name, std::string ns);
  /// Appends character data (unescaped); merged into the last node when that is text, so
  /// the tree does not depend on how a parser happened to split the text.
  void add_text(std::string text);

  /// First element child {ns}name, or nullptr.
  const Element* find_child(std::string_view name, std::string_view ns) const;
  Element* find_child(std::string_view name, std::string_view ns);

  /// Element children only, in order.
  ElementRange<ConstIterator> children() const;
  ElementRange<Iterator> children();
  /// All children: elements and text runs, in order.
  const std::vector<Node>& nodes() const noexcept { return nodes_; }
  std::vector<Node>& nodes() noexcept { return nodes_; }

  /// Concatenation of the direct text children (not of descendants).
  std::string text() const;

  /// Removes every element child {ns}name; returns how many were removed.
  std::size_t remove_children(std::string_view name, std::string_view ns);
  /// Removes all children, elements and text.
  void clear_children() noexcept;

  friend bool operator==(const Element& a, const Element& b);

 private:
  std::string name_;
  std::string ns_;
  std::vector<Attribute> attrs_;
  std::vector<Node> nodes_;
};

/// A child of an element: either an element or a run of character data (unescaped UTF-8).
/// A plain value; see Element for thread-safety.
class Node {
 public:
  explicit Node(Element element) : value_(std::move(element)) {}
  explicit Node(std::string text) : value_(std::move(text)) {}

  bool is_element() const noexcept { return value_.index() == 0; }
  bool is_text() const noexcept { return value_.index() == 1; }
  /// Preconditions: is_element() / is_text() respectively (checked: std::bad_variant_access).
  const Element& element() const { return std::get<0>(value_); }
  Element& element() { return std::get<0>(value_); }
  const std::string& text() const { return std::get<1>(value_); }
  std::string& text() { return std::get<1>(value_); }

  bool operator==(const Node&) const = default;

 private:
  std::variant<Element, std::string> value_;
};

/// Forward iterator over the element nodes of a node array, skipping text runs.
template <typename NodePtr, typename Elem>
class ElementIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = Element;
  using difference_type = std::ptrdiff_t;
  using pointer = Elem*;
  using reference = Elem&;

  ElementIterator() = default;
  ElementIterator(NodePtr at, NodePtr end) : at_(at), end_(end) { skip_text(); }

  reference operator*() const { return at_->element(); }
  pointer operator->() const { return &at_->element(); }
  ElementIterator& operator++() {
    ++at_;
    skip_text();
    return *this;
  }
  ElementIterator operator++(int) {
    ElementIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const ElementIterator& a, const ElementIterator& b) { return a.at_ == b.at_; }

 private:
  void skip_text() {
    while (at_ != end_ && !at_->is_element()) ++at_;
  }

  NodePtr at_ = nullptr;
  NodePtr end_ = nullptr;
};

inline ElementRange<Element::ConstIterator> Element::children() const {
  const Node* first = nodes_.data();
  const Node* last = first + nodes_.size();
  return {ConstIterator(first, last), ConstIterator(last, last)};
}

inline ElementRange<Element::Iterator> Element::children() {
  Node* first = nodes_.data();
  Node* last = first + nodes_.size();
  return {Iterator(first, last), Iterator(last, last)};
}

}  // namespace parley::server::xml
