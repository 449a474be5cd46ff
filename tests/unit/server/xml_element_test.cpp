#include "server/xml/element.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace parley::server::xml {
namespace {

TEST(XmlElement, AttributesAreKeyedByNameAndNamespace) {
  Element message("message", "jabber:client");
  message.set_attr("to", "juliet@example.com");
  message.set_attr("lang", std::string(kXmlNs), "en");
  message.set_attr("to", "romeo@example.net");  // replaces
  EXPECT_EQ(message.attr("to"), "romeo@example.net");
  EXPECT_EQ(message.attr("lang"), std::nullopt);  // xml:lang is not the unqualified 'lang'
  EXPECT_EQ(message.attr("lang", kXmlNs), "en");
  EXPECT_EQ(message.attributes().size(), 2u);
  EXPECT_TRUE(message.remove_attr("to"));
  EXPECT_FALSE(message.remove_attr("to"));
  EXPECT_FALSE(message.remove_attr("lang"));
  EXPECT_TRUE(message.remove_attr("lang", kXmlNs));
  EXPECT_TRUE(message.attributes().empty());
}

TEST(XmlElement, ChildrenSkipTextAndFindMatchesNamespace) {
  Element message("message", "jabber:client");
  message.add_text("a");
  Element& body = message.add_child("body", "jabber:client");
  body.add_text("hello");
  message.add_text("b");
  message.add_child(Element("body", "urn:other"));
  message.add_text("c");

  std::vector<std::string> names;
  for (const Element& child : std::as_const(message).children()) names.push_back(child.ns() + " " + child.name());
  EXPECT_EQ(names, (std::vector<std::string>{"jabber:client body", "urn:other body"}));
  EXPECT_EQ(message.nodes().size(), 5u);
  EXPECT_EQ(message.text(), "abc");

  ASSERT_NE(message.find_child("body", "urn:other"), nullptr);
  EXPECT_EQ(message.find_child("body", "urn:other")->ns(), "urn:other");
  EXPECT_EQ(message.find_child("body", "jabber:client")->text(), "hello");
  EXPECT_EQ(message.find_child("subject", "jabber:client"), nullptr);

  for (Element& child : message.children()) child.set_attr("seen", "1");
  EXPECT_EQ(message.find_child("body", "urn:other")->attr("seen"), "1");

  EXPECT_EQ(message.remove_children("body", "jabber:client"), 1u);
  EXPECT_EQ(message.find_child("body", "jabber:client"), nullptr);
  EXPECT_NE(message.find_child("body", "urn:other"), nullptr);
  message.clear_children();
  EXPECT_TRUE(message.nodes().empty());
  EXPECT_TRUE(message.children().empty());
}

TEST(XmlElement, AdjacentTextIsMergedAndCopiesAreIndependent) {
  Element body("body", "jabber:client");
  body.add_text("hel");
  body.add_text("");
  body.add_text("lo");
  ASSERT_EQ(body.nodes().size(), 1u);
  EXPECT_TRUE(body.nodes()[0].is_text());

  Element copy = body;
  EXPECT_EQ(copy, body);
  copy.add_text("!");
  EXPECT_EQ(body.text(), "hello");
  EXPECT_EQ(copy.text(), "hello!");
  EXPECT_NE(copy, body);
}

}  // namespace
}  // namespace parley::server::xml
