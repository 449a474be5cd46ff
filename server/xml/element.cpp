#include "server/xml/element.hpp"

#include <algorithm>
#include <utility>

namespace parley::server::xml {

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

std::optional<std::string_view> Element::attr(std::string_view name) const {
  return attr(name, {});
}

std::optional<std::string_view> Element::attr(std::string_view name, std::string_view ns) const {
  for (const Attribute& a : attrs_) {
    if (a.name == name && a.ns == ns) return std::string_view(a.value);
  }
  return std::nullopt;
}

void Element::set_attr(std::string name, std::string value) {
  set_attr(std::move(name), std::string(), std::move(value));
}

void Element::set_attr(std::string name, std::string ns, std::string value) {
  for (Attribute& a : attrs_) {
    if (a.name == name && a.ns == ns) {
      a.value = std::move(value);
      return;
    }
  }
  attrs_.push_back(Attribute{std::move(name), std::move(ns), std::move(value)});
}

bool Element::remove_attr(std::string_view name) { return remove_attr(name, {}); }

bool Element::remove_attr(std::string_view name, std::string_view ns) {
  auto it = std::find_if(attrs_.begin(), attrs_.end(),
                         [&](const Attribute& a) { return a.name == name && a.ns == ns; });
  if (it == attrs_.end()) return false;
  attrs_.erase(it);
  return true;
}

Element& Element::add_child(Element child) {
  return nodes_.emplace_back(std::move(child)).element();
}

Element& Element::add_child(std::string name, std::string ns) {
  return add_child(Element(std::move(name), std::move(ns)));
}

void Element::add_text(std::string text) {
  if (text.empty()) return;
  if (!nodes_.empty() && nodes_.back().is_text()) {
    nodes_.back().text() += text;
  } else {
    nodes_.emplace_back(std::move(text));
  }
}

const Element* Element::find_child(std::string_view name, std::string_view ns) const {
  for (const Element& child : children()) {
    if (child.name_ == name && child.ns_ == ns) return &child;
  }
  return nullptr;
}

Element* Element::find_child(std::string_view name, std::string_view ns) {
  return const_cast<Element*>(std::as_const(*this).find_child(name, ns));
}

std::string Element::text() const {
  std::string out;
  for (const Node& node : nodes_) {
    if (node.is_text()) out += node.text();
  }
  return out;
}

std::size_t Element::remove_children(std::string_view name, std::string_view ns) {
  const std::size_t before = nodes_.size();
  std::erase_if(nodes_, [&](const Node& node) {
    return node.is_element() && node.element().name_ == name && node.element().ns_ == ns;
  });
  return before - nodes_.size();
}

void Element::clear_children() noexcept { nodes_.clear(); }

bool operator==(const Element& a, const Element& b) {
  return a.name_ == b.name_ && a.ns_ == b.ns_ && a.attrs_ == b.attrs_ && a.nodes_ == b.nodes_;
}

}  // namespace parley::server::xml
