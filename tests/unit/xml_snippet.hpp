#pragma once
// One element parsed as it would arrive inside a stream whose content namespace is `ns`
// (jabber:client from a client, jabber:server from a peer server), for unit tests.
// Throws std::runtime_error when the snippet holds no complete element.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "server/xml/element.hpp"
#include "server/xml/stream_parser.hpp"

namespace parley::test {

inline server::xml::Element parse_element(std::string_view xml, std::string_view ns = "jabber:client") {
  struct One final : server::xml::StreamParser::Handler {
    std::optional<server::xml::Element> got;
    void on_stream_open(const server::xml::StreamHeader&) override {}
    void on_stanza(server::xml::Element&& e) override { got = std::move(e); }
    void on_stream_close() override {}
    void on_error(server::xml::StreamError) override {}
  } one;
  server::xml::StreamParser p(one, std::string(ns));
  p.feed("<stream:stream xmlns='" + std::string(ns) + "' xmlns:stream='http://etherx.jabber.org/streams'>");
  p.feed(xml);
  if (!one.got) throw std::runtime_error("no complete element in the test's XML: " + std::string(xml));
  return std::move(*one.got);
}

}  // namespace parley::test
