// Archiving rules and the stored form of messages.
#include "modules/mam/mam_rules.hpp"

#include <algorithm>

#include "server/xml/serializer.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::modules::mam {

using server::xml::Element;

bool is_archivable(const server::Stanza& m) {
  if (m.kind != server::StanzaKind::message) return false;
  // RFC 6121 §5.2.2: no type means normal.
  if (!m.type.empty() && m.type != "chat" && m.type != "normal") return false;
  const Element& e = m.element;
  if (e.find_child("no-store", kHintsNs) != nullptr || e.find_child("no-permanent-store", kHintsNs) != nullptr) {
    return false;
  }
  return e.find_child("body", e.ns()) != nullptr || e.find_child("store", kHintsNs) != nullptr;
}

std::size_t strip_stanza_ids(Element& message, std::string_view by) {
  auto& nodes = message.nodes();
  auto before = nodes.size();
  nodes.erase(std::remove_if(nodes.begin(), nodes.end(),
                             [by](const server::xml::Node& n) {
                               return n.is_element() && n.element().name() == "stanza-id" &&
                                      n.element().ns() == kSidNs && n.element().attr("by") == by;
                             }),
              nodes.end());
  return before - nodes.size();
}

void add_stanza_id(Element& message, std::string by, std::string id) {
  auto& sid = message.add_child("stanza-id", std::string(kSidNs));
  sid.set_attr("by", std::move(by));
  sid.set_attr("id", std::move(id));
}

std::string body_text(const Element& message) {
  const Element* body = message.find_child("body", message.ns());
  return body == nullptr ? std::string() : body->text();
}

Decision decide(const Prefs& prefs, const server::Jid& peer) {
  const std::string bare = peer.bare().full();
  auto listed = [&](const std::vector<std::string>& list) {
    return std::binary_search(list.begin(), list.end(), bare) ||
           (!peer.is_bare() && std::binary_search(list.begin(), list.end(), peer.full()));
  };
  if (listed(prefs.never)) return Decision::skip;
  if (listed(prefs.always)) return Decision::archive;
  switch (prefs.policy) {
    case Policy::always: return Decision::archive;
    case Policy::never: return Decision::skip;
    case Policy::roster: return Decision::ask_roster;
  }
  return Decision::archive;
}

namespace {

Element with_client_ns(const Element& e) {
  std::string ns = e.ns() == server::xml::kServerNs ? std::string(server::xml::kClientNs) : e.ns();
  Element out(e.name(), std::move(ns));
  for (const auto& a : e.attributes()) out.set_attr(a.name, a.ns, a.value);
  for (const auto& n : e.nodes()) {
    if (n.is_element()) {
      out.add_child(with_client_ns(n.element()));
    } else {
      out.add_text(n.text());
    }
  }
  return out;
}

}  // namespace

std::string to_stored(const Element& message) {
  if (message.ns() == server::xml::kServerNs) return server::xml::serialize(with_client_ns(message));
  return server::xml::serialize(message);
}

class StoredStanzaReader::Sink final : public server::xml::StreamParser::Handler {
 public:
  void on_stream_open(const server::xml::StreamHeader&) override {}
  void on_stanza(Element&& e) override { got = std::move(e); }
  void on_stream_close() override {}
  void on_error(server::xml::StreamError) override {}
  std::optional<Element> got;
};

StoredStanzaReader::StoredStanzaReader() : sink_(std::make_unique<Sink>()) { reset(); }
StoredStanzaReader::~StoredStanzaReader() = default;

void StoredStanzaReader::reset() {
  server::xml::StreamLimits limits;
  limits.max_stanza_bytes = 64 * 1024 * 1024;  // what was accepted once is read back whole
  limits.max_depth = 1024;
  limits.max_attributes = 1024;
  parser_ = std::make_unique<server::xml::StreamParser>(*sink_, std::string(server::xml::kClientNs), limits);
  parser_->feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
}

std::optional<Element> StoredStanzaReader::read(std::string_view xml) {
  sink_->got.reset();
  if (!parser_->feed(xml) || parser_->bytes_buffered() != 0 || !sink_->got) {
    reset();  // a broken row must not spoil the next one
    return std::nullopt;
  }
  return std::move(sink_->got);
}

}  // namespace parley::modules::mam
