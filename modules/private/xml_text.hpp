#pragma once
// XML fragments as text in the database, for the modules that store what clients give them
// as XML (private storage here, vCards in modules/vcard/). Modules reach the core only
// through the module API, which has the element tree but neither the stream serializer nor
// the parser; this is the small, self-contained pair those modules need. Pure functions,
// thread-safe, no I/O; tested in tests/unit/modules/private_test.cpp.

#include <optional>
#include <string>
#include <string_view>

#include "server/xml/element.hpp"

namespace parley::modules::private_storage {

/// `element` as XML text, its namespace declared on it (xmlns='...'), children's namespaces
/// declared where they change; qualified attributes get a prefix declared on their element
/// (xml:lang stays xml:lang). Characters XML 1.0 forbids are dropped. Its size is what the
/// modules' byte limits count.
std::string write_xml(const server::xml::Element& element);

/// Reads one element written by write_xml() (a well-formed subset of XML: elements, attributes,
/// namespace declarations, text, the five predefined entities and character references).
/// nullopt for anything else: comments, CDATA, processing instructions, a DTD, trailing
/// content, more than 128 levels. Never throws on bad input (only std::bad_alloc).
std::optional<server::xml::Element> read_xml(std::string_view text);

}  // namespace parley::modules::private_storage
