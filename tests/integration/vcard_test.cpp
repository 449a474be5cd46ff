// XEP-0054 vcard-temp over real TLS against `parley serve`: publishing one's vCard, reading
// it back, other users' view of it, and the size limit.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kVcardNs = "vcard-temp";

std::optional<Element> ask(XmppClient& c, const std::string& id, const std::string& xml) {
  c.send(xml);
  for (;;) {
    auto e = c.receive(10s);
    if (!e) return std::nullopt;
    if (e->name() == "iq" && e->attr("id") == id) return e;
  }
}

std::string text_of(const Element& vcard, const char* name) {
  auto* e = vcard.find_child(name, kVcardNs);
  return e ? e->text() : "";
}

const char* kPeter =
    "<vCard xmlns='vcard-temp'><FN>Peter &amp; Co</FN><N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN>"
    "<MIDDLE/></N><NICKNAME>stpeter</NICKNAME><PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO>"
    "<DESC xml:lang='en'>Line one\nline two</DESC></vCard>";

class Vcard : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = {"message", "blocking", "vcard", "private", "register", "disco", "ping"};
    options.extra_config = "[host.vcard]\nmax_bytes = 4096\n";
    server_ = new TestServer(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    static int n = 0;
    ++n;
    alice_ = "alice" + std::to_string(n);
    bob_ = "bob" + std::to_string(n);
    server_->add_user(alice_ + "@localhost", "secret");
    server_->add_user(bob_ + "@localhost", "secret");
  }
  std::unique_ptr<XmppClient> login(const std::string& user) { return server_->login(user, "secret", "res"); }

  static TestServer* server_;
  std::string alice_, bob_;
};
TestServer* Vcard::server_ = nullptr;

TEST_F(Vcard, WithoutOneTheOwnerGetsAnEmptyVcardAndOthersItemNotFound) {
  auto alice = login(alice_);
  auto own = ask(*alice, "g1", "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->attr("type"), "result");
  auto* empty = own->find_child("vCard", kVcardNs);
  ASSERT_NE(empty, nullptr);
  EXPECT_TRUE(empty->children().empty());

  auto bob = login(bob_);
  auto other = ask(*bob, "g2", "<iq type='get' id='g2' to='" + alice_ + "@localhost'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(error_condition(*other), "item-not-found");
  // The same answer for an account that does not exist: no way to tell them apart.
  auto nobody = ask(*bob, "g3", "<iq type='get' id='g3' to='nobody-at-all@localhost'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(nobody.has_value());
  EXPECT_EQ(error_condition(*nobody), "item-not-found");
}

TEST_F(Vcard, SetThenReadBackByTheOwnerAndByOthers) {
  auto alice = login(alice_);
  auto set = ask(*alice, "s1", std::string("<iq type='set' id='s1'>") + kPeter + "</iq>");
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->attr("type"), "result") << error_condition(*set);

  auto own = ask(*alice, "g1", "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(own && own->attr("type") == "result");
  auto* mine = own->find_child("vCard", kVcardNs);
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(*mine, parse_xml(kPeter));  // exactly what was set, text, attributes and all

  auto bob = login(bob_);
  auto theirs = ask(*bob, "g2", "<iq type='get' id='g2' to='" + alice_ + "@localhost'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(theirs && theirs->attr("type") == "result");
  EXPECT_EQ(theirs->attr("from"), alice_ + "@localhost");  // answered on alice's behalf
  auto* seen = theirs->find_child("vCard", kVcardNs);
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(text_of(*seen, "FN"), "Peter & Co");
  EXPECT_EQ(text_of(*seen->find_child("N", kVcardNs), "GIVEN"), "Peter");
}

TEST_F(Vcard, ANewVcardReplacesTheOldAndAnEmptyOneRemovesIt) {
  auto alice = login(alice_);
  ASSERT_EQ(ask(*alice, "s1", std::string("<iq type='set' id='s1'>") + kPeter + "</iq>")->attr("type"), "result");
  ASSERT_EQ(ask(*alice, "s2", "<iq type='set' id='s2'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>")->attr("type"),
            "result");
  auto own = ask(*alice, "g1", "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(own && own->attr("type") == "result");
  auto* v = own->find_child("vCard", kVcardNs);
  EXPECT_EQ(text_of(*v, "FN"), "Alice");
  EXPECT_EQ(v->find_child("NICKNAME", kVcardNs), nullptr);

  ASSERT_EQ(ask(*alice, "s3", "<iq type='set' id='s3'><vCard xmlns='vcard-temp'/></iq>")->attr("type"), "result");
  auto bob = login(bob_);
  auto gone = ask(*bob, "g2", "<iq type='get' id='g2' to='" + alice_ + "@localhost'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(error_condition(*gone), "item-not-found");
}

TEST_F(Vcard, NobodySetsSomeoneElsesVcard) {
  auto bob = login(bob_);
  auto r = ask(*bob, "x1", "<iq type='set' id='x1' to='" + alice_ + "@localhost'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(error_condition(*r), "forbidden");
  auto alice = login(alice_);
  auto own = ask(*alice, "g1", "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(own && own->attr("type") == "result");
  EXPECT_TRUE(own->find_child("vCard", kVcardNs)->children().empty());
}

TEST_F(Vcard, AVcardOverTheLimitIsRefusedAndTheOldOneStays) {
  auto alice = login(alice_);
  ASSERT_EQ(ask(*alice, "s1", "<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Small</FN></vCard></iq>")->attr("type"),
            "result");
  std::string big = "<iq type='set' id='s2'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>" + std::string(5000, 'A') +
                    "</BINVAL></PHOTO></vCard></iq>";
  auto r = ask(*alice, "s2", big);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(error_condition(*r), "policy-violation");
  EXPECT_EQ(r->find_child("vCard", kVcardNs), nullptr) << "the refused vCard is not echoed back";
  auto own = ask(*alice, "g1", "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(own && own->attr("type") == "result");
  EXPECT_EQ(text_of(*own->find_child("vCard", kVcardNs), "FN"), "Small");
}

TEST_F(Vcard, DiscoAdvertisesVcardTemp) {
  auto alice = login(alice_);
  auto info = ask(*alice, "d", "<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  ASSERT_TRUE(info && info->attr("type") == "result");
  bool found = false;
  for (const auto& f : info->find_child("query", "http://jabber.org/protocol/disco#info")->children()) {
    if (f.attr("var") == kVcardNs) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace parley::test
