#include "modules/offline/offline_rules.hpp"

#include "server/xml/serializer.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::modules::offline {

using server::xml::Element;

namespace {

constexpr std::string_view kServerNs = "jabber:server";

bool only_chat_states(const Element& message) {
  bool any_state = false;
  for (const auto& child : message.children()) {
    if (child.ns() == kChatStatesNs) {
      any_state = true;
    } else if (child.ns() == kHintsNs || (child.name() == "thread" && child.ns() == message.ns())) {
      continue;  // neither content nor a reason to keep it
    } else {
      return false;
    }
  }
  return any_state;
}

}  // namespace

Disposition disposition(const server::Stanza& message) {
  const std::string& type = message.type;
  if (type == "headline" || type == "error") return Disposition::drop;  // RFC 6121 §8.5.2.2.2, .4
  if (type == "groupchat") return Disposition::refuse;                  // RFC 6121 §8.5.2.2.3
  const Element& e = message.element;
  if (e.find_child("no-store", kHintsNs) != nullptr) return Disposition::refuse;
  if (e.find_child("store", kHintsNs) != nullptr) return Disposition::store;
  if (only_chat_states(e)) return Disposition::drop;  // XEP-0160 §3, XEP-0085
  return Disposition::store;
}

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

std::string to_storage(const server::Stanza& message) {
  Element e = as_client_namespace(message.element);
  if (message.from) e.set_attr("from", message.from->str());
  if (message.to) e.set_attr("to", message.to->str());
  return server::xml::serialize(e);
}

std::optional<server::Stanza> from_storage(std::string_view xml) {
  struct One final : server::xml::StreamParser::Handler {
    std::optional<Element> got;
    void on_stream_open(const server::xml::StreamHeader&) override {}
    void on_stanza(Element&& e) override {
      if (!got) got = std::move(e);
    }
    void on_stream_close() override {}
    void on_error(server::xml::StreamError) override {}
  } one;
  // What was stored passed the stream limits when it arrived; these only bound a damaged row.
  server::xml::StreamLimits limits;
  limits.max_stanza_bytes = 64 * 1024 * 1024;
  limits.max_depth = 1024;
  limits.max_attributes = 4096;
  server::xml::StreamParser parser(one, std::string(server::kClientNs), limits);
  parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  parser.feed(xml);
  if (!one.got) return std::nullopt;
  return server::make_stanza(std::move(*one.got));
}

void add_delay(server::Stanza& message, std::string_view domain, std::string_view stamp) {
  Element& delay = message.element.add_child("delay", std::string(kDelayNs));
  delay.set_attr("from", std::string(domain));
  delay.set_attr("stamp", std::string(stamp));
}

}  // namespace parley::modules::offline
