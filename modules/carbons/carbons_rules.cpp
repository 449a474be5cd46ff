#include "modules/carbons/carbons_rules.hpp"

namespace parley::modules::carbons {
namespace {

using server::xml::Element;

constexpr std::string_view kServerNs = "jabber:server";

// XEP-0297 §3: the forwarded stanza is in jabber:client, whatever stream it came over.
Element as_client_namespace(const Element& element) {
  Element out(element.name(), element.ns() == kServerNs ? std::string(server::kClientNs) : element.ns());
  for (const auto& a : element.attributes()) {
    if (a.ns.empty()) {
      out.set_attr(a.name, a.value);
    } else {
      out.set_attr(a.name, a.ns, a.value);
    }
  }
  for (const auto& node : element.nodes()) {
    if (node.is_text()) {
      out.add_text(node.text());
    } else {
      out.add_child(as_client_namespace(node.element()));
    }
  }
  return out;
}

}  // namespace

bool is_private(const Element& message) { return message.find_child("private", kCarbonsNs) != nullptr; }

bool eligible(const server::Stanza& message) {
  if (message.kind != server::StanzaKind::message) return false;
  const Element& e = message.element;
  const std::string& type = message.type;
  if (type == "groupchat" || type == "headline" || type == "error") return false;
  if (type != "chat" && e.find_child("body", e.ns()) == nullptr) return false;  // normal needs a body
  if (is_private(e) || e.find_child("no-copy", kHintsNs) != nullptr) return false;
  // A carbon is never copied again (and a forged one is no conversation to keep in sync).
  if (e.find_child("sent", kCarbonsNs) != nullptr || e.find_child("received", kCarbonsNs) != nullptr) {
    return false;
  }
  return true;
}

bool eligible_received(const server::Stanza& message) {
  return eligible(message) && message.element.find_child("x", kMucUserNs) == nullptr;
}

server::Stanza wrap(Direction direction, const server::Stanza& original, const server::Jid& account,
                    const server::Jid& target) {
  Element inner = as_client_namespace(original.element);
  if (original.from) inner.set_attr("from", original.from->str());
  if (original.to) inner.set_attr("to", original.to->str());

  Element outer("message", std::string(server::kClientNs));
  outer.set_attr("from", account.str());
  outer.set_attr("to", target.str());
  if (!original.type.empty()) outer.set_attr("type", original.type);  // "SHOULD maintain the same 'type'"
  Element& dir = outer.add_child(direction == Direction::sent ? "sent" : "received", std::string(kCarbonsNs));
  dir.add_child("forwarded", std::string(kForwardNs)).add_child(std::move(inner));
  return server::Stanza{std::move(outer), server::StanzaKind::message, original.type, account, target};
}

std::vector<std::shared_ptr<server::ClientSession>> bare_recipients(
    const std::vector<std::shared_ptr<server::ClientSession>>& sessions) {
  std::vector<std::shared_ptr<server::ClientSession>> out;
  int best = 0;
  for (const auto& s : sessions) {
    if (!s->available() || s->priority() < 0) continue;
    if (out.empty() || s->priority() > best) {
      out.clear();
      best = s->priority();
    } else if (s->priority() < best) {
      continue;
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace parley::modules::carbons
