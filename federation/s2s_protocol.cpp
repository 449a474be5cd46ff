#include "federation/s2s_protocol.hpp"

#include "server/crypto.hpp"
#include "server/xml/serializer.hpp"

namespace parley::federation {

namespace xml = server::xml;

bool is_features(const xml::Element& e) { return e.name() == "features" && e.ns() == xml::kStreamNs; }

bool is_stream_error(const xml::Element& e) { return e.name() == "error" && e.ns() == xml::kStreamNs; }

std::string error_summary(const xml::Element& e) {
  std::string condition, text;
  for (const auto& child : e.children()) {
    if (child.name() == "text") {
      text = child.text();
    } else if (condition.empty()) {
      condition = child.name();
    }
  }
  if (condition.empty()) condition = "no condition";
  return text.empty() ? condition : condition + ": " + text;
}

bool offers_mechanism(const xml::Element& features, std::string_view name) {
  const xml::Element* mechanisms = features.find_child("mechanisms", kSaslNs);
  if (mechanisms == nullptr) return false;
  for (const auto& m : mechanisms->children()) {
    if (m.name() == "mechanism" && m.ns() == kSaslNs && m.text() == name) return true;
  }
  return false;
}

ExternalOutcome check_external_auth(std::string_view payload, std::string_view claimed) {
  // RFC 6120 §6.4.2: "=" is an empty response; no payload at all is the same here.
  std::string authzid;
  if (!payload.empty() && payload != "=") {
    auto decoded = server::crypto::base64_decode(payload);
    if (!decoded) return {{}, "incorrect-encoding"};
    authzid = std::move(*decoded);
  }
  if (authzid.empty()) {
    if (claimed.empty()) return {{}, "invalid-authzid"};  // nobody to authenticate as
    return {std::string(claimed), {}};
  }
  auto jid = server::Jid::parse(authzid);
  auto claimed_jid = server::Jid::parse(claimed);
  if (!jid || jid->has_local() || !jid->is_bare()) return {{}, "invalid-authzid"};
  if (!claimed.empty() && (!claimed_jid || claimed_jid->domain() != jid->domain())) return {{}, "invalid-authzid"};
  return {std::string(jid->domain()), {}};
}

namespace {

std::string dialback_element(std::string_view name, std::string_view from, std::string_view to,
                             std::string_view id, std::string_view type, std::string_view key) {
  std::string out = "<db:" + std::string(name) + " xmlns:db='" + std::string(kDialbackNs) + "'";
  auto attr = [&out](std::string_view n, std::string_view v) {
    out += " " + std::string(n) + "='";
    xml::append_escaped_attr(out, v);
    out += "'";
  };
  attr("from", from);
  attr("to", to);
  if (!id.empty()) attr("id", id);
  if (!type.empty()) attr("type", type);
  if (key.empty()) return out + "/>";
  out += ">";
  xml::append_escaped_text(out, key);
  return out + "</db:" + std::string(name) + ">";
}

}  // namespace

std::string dialback_result_request(std::string_view from, std::string_view to, std::string_view key) {
  return dialback_element("result", from, to, {}, {}, key);
}

std::string dialback_result_answer(std::string_view from, std::string_view to, bool valid) {
  return dialback_element("result", from, to, {}, valid ? "valid" : "invalid", {});
}

std::string dialback_verify_request(std::string_view from, std::string_view to, std::string_view id,
                                    std::string_view key) {
  return dialback_element("verify", from, to, id, {}, key);
}

std::string dialback_verify_answer(std::string_view from, std::string_view to, std::string_view id, bool valid) {
  return dialback_element("verify", from, to, id, valid ? "valid" : "invalid", {});
}

bool is_dialback(const xml::Element& e, std::string_view name) { return e.ns() == kDialbackNs && e.name() == name; }

std::optional<StanzaRefusal> check_inbound_stanza(const server::Stanza& st, std::string_view authenticated,
                                                  const std::function<bool(std::string_view)>& is_local) {
  // RFC 6120 §8.1.1.1, §8.1.2.1: between servers every stanza carries both addresses.
  if (!st.from || !st.to) {
    return StanzaRefusal{"improper-addressing", "a stanza between servers needs 'from' and 'to'"};
  }
  if (st.from->domain() != authenticated) {
    return StanzaRefusal{"invalid-from", "this stream is authenticated for " + std::string(authenticated) +
                                             ", not " + std::string(st.from->domain())};
  }
  if (!is_local(st.to->domain())) {
    return StanzaRefusal{"host-unknown", std::string(st.to->domain()) + " is not served here"};
  }
  return std::nullopt;
}

std::variant<server::Stanza, StanzaRefusal> take_inbound_stanza(
    xml::Element element, std::string_view authenticated, const std::function<bool(std::string_view)>& is_local) {
  bool bad_jid = false;
  std::string name = element.name();
  auto stanza = server::make_stanza(to_client_namespace(std::move(element)), &bad_jid);
  if (!stanza) {
    // RFC 6120 §4.9.3.10, §4.9.3.22.
    if (bad_jid) return StanzaRefusal{"improper-addressing", "a stanza has a malformed 'from' or 'to'"};
    return StanzaRefusal{"unsupported-stanza-type", "<" + name + "/> is not a stanza"};
  }
  if (auto refusal = check_inbound_stanza(*stanza, authenticated, is_local)) return std::move(*refusal);
  return std::move(*stanza);
}

xml::Element to_client_namespace(xml::Element element) {
  if (element.ns() != xml::kServerNs) {
    // Another namespace (e.g. a <forwarded/> wrapper) may still hold jabber:server stanzas.
    for (auto& node : element.nodes()) {
      if (node.is_element()) node.element() = to_client_namespace(std::move(node.element()));
    }
    return element;
  }
  xml::Element out(element.name(), std::string(xml::kClientNs));
  for (const auto& a : element.attributes()) {
    if (a.ns.empty()) {
      out.set_attr(a.name, a.value);
    } else {
      out.set_attr(a.name, a.ns, a.value);
    }
  }
  for (auto& node : element.nodes()) {
    if (node.is_element()) {
      out.add_child(to_client_namespace(std::move(node.element())));
    } else {
      out.add_text(std::move(node.text()));
    }
  }
  return out;
}

}  // namespace parley::federation
