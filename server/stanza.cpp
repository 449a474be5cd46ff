#include "server/stanza.hpp"

namespace parley::server {

void Stanza::sync_addresses() {
  if (from) {
    element.set_attr("from", from->str());
  } else {
    element.remove_attr("from");
  }
  if (to) {
    element.set_attr("to", to->str());
  } else {
    element.remove_attr("to");
  }
}

std::optional<Stanza> make_stanza(xml::Element element, bool* bad_jid) {
  if (bad_jid != nullptr) *bad_jid = false;
  if (element.ns() != "jabber:client" && element.ns() != "jabber:server") return std::nullopt;
  StanzaKind kind;
  if (element.name() == "message") {
    kind = StanzaKind::message;
  } else if (element.name() == "presence") {
    kind = StanzaKind::presence;
  } else if (element.name() == "iq") {
    kind = StanzaKind::iq;
  } else {
    return std::nullopt;
  }
  std::optional<Jid> from, to;
  for (auto [attr, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    if (auto value = element.attr(attr)) {
      *out = Jid::parse(*value);
      if (!*out) {
        if (bad_jid != nullptr) *bad_jid = true;
        return std::nullopt;
      }
    }
  }
  std::string type(element.attr("type").value_or(""));
  return Stanza{std::move(element), kind, std::move(type), std::move(from), std::move(to)};
}

Stanza make_error(const Stanza& original, const StanzaError& error) {
  xml::Element e(original.element.name(), original.element.ns());
  if (auto id = original.element.attr("id")) e.set_attr("id", std::string(*id));
  e.set_attr("type", "error");
  if (original.kind == StanzaKind::iq) {
    for (const auto& child : original.element.children()) {
      e.add_child(child);  // the request payload (RFC 6120 §8.3.1, "MAY include")
      break;
    }
  } else {
    for (const auto& child : original.element.children()) e.add_child(child);
  }
  xml::Element& err = e.add_child("error", original.element.ns());
  err.set_attr("type", std::string(error.type));
  err.add_child(std::string(error.condition), std::string(kStanzaErrorNs));
  if (!error.text.empty()) {
    err.add_child("text", std::string(kStanzaErrorNs)).add_text(error.text);
  }
  Stanza s{std::move(e), original.kind, "error", original.to, original.from};
  s.sync_addresses();
  return s;
}

Stanza make_result(const Stanza& request) {
  xml::Element e("iq", request.element.ns());
  if (auto id = request.element.attr("id")) e.set_attr("id", std::string(*id));
  e.set_attr("type", "result");
  Stanza s{std::move(e), StanzaKind::iq, "result", request.to, request.from};
  s.sync_addresses();
  return s;
}

}  // namespace parley::server
