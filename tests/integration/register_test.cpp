// XEP-0077 in-band registration over real TLS against `parley serve`, for logged-in users:
// password change, account removal, and the per-address limit.
#include <gtest/gtest.h>

#include "tests/support/test_server.hpp"

namespace parley::test {
namespace {

using server::xml::Element;
using namespace std::chrono_literals;

const char* kRegisterNs = "jabber:iq:register";
const std::vector<std::string> kModules{"message", "blocking", "vcard", "private", "register", "disco", "ping"};

std::optional<Element> ask(XmppClient& c, const std::string& id, const std::string& xml) {
  c.send(xml);
  for (;;) {
    auto e = c.receive(10s);
    if (!e) return std::nullopt;
    if (e->name() == "iq" && e->attr("id") == id) return e;
  }
}

std::string change_password(const std::string& id, const std::string& user, const std::string& password) {
  return "<iq type='set' id='" + id + "' to='localhost'><query xmlns='jabber:iq:register'><username>" + user +
         "</username><password>" + password + "</password></query></iq>";
}

// The SASL outcome of a fresh connection: "" when the password is accepted.
std::string try_login(TestServer& server, const std::string& user, const std::string& password) {
  XmppClient c(server.client());
  if (!c.connect_tls()) return "no connection";
  return c.authenticate("SCRAM-SHA-256", user, password);
}

class Register : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.modules = kModules;
    // Every test here comes from 127.0.0.1: the limit has its own test and server below.
    options.extra_config = "[host.register]\nper_address_per_hour = 1000\n";
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
    server_->add_user(alice_ + "@localhost", "old-secret");
  }

  static TestServer* server_;
  std::string alice_;
};
TestServer* Register::server_ = nullptr;

TEST_F(Register, ARegisteredUserIsToldSo) {
  auto alice = server_->login(alice_, "old-secret", "desk");
  auto r = ask(*alice, "r1", "<iq type='get' id='r1' to='localhost'><query xmlns='jabber:iq:register'/></iq>");
  ASSERT_TRUE(r && r->attr("type") == "result");
  auto* query = r->find_child("query", kRegisterNs);
  ASSERT_NE(query, nullptr);
  EXPECT_NE(query->find_child("registered", kRegisterNs), nullptr);
  EXPECT_EQ(query->find_child("username", kRegisterNs)->text(), alice_);
  EXPECT_TRUE(query->find_child("password", kRegisterNs)->text().empty()) << "the password is never on file";
}

TEST_F(Register, AfterAPasswordChangeOnlyTheNewPasswordWorks) {
  auto alice = server_->login(alice_, "old-secret", "desk");
  auto r = ask(*alice, "p1", change_password("p1", alice_, "new-secret"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->attr("type"), "result") << error_condition(*r);
  EXPECT_EQ(try_login(*server_, alice_, "new-secret"), "");
  EXPECT_EQ(try_login(*server_, alice_, "old-secret"), "not-authorized");
  // The session that changed it goes on.
  auto ping = ask(*alice, "p2", "<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  ASSERT_TRUE(ping && ping->attr("type") == "result");
}

TEST_F(Register, ABadPasswordChangeKeepsTheOldPasswordAndIsNotEchoed) {
  auto alice = server_->login(alice_, "old-secret", "desk");
  // §3.3: an empty password never replaces the current one.
  auto empty = ask(*alice, "p1", "<iq type='set' id='p1'><query xmlns='jabber:iq:register'><username>" + alice_ +
                                      "</username><password/></query></iq>");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(error_condition(*empty), "bad-request");
  // Someone else's user name.
  auto other = ask(*alice, "p2", change_password("p2", "somebody-else", "stolen-secret"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(error_condition(*other), "bad-request");
  EXPECT_EQ(other->find_child("query", kRegisterNs), nullptr) << "the request (with its password) came back";
  // A control character is refused by the password profile (RFC 8265 §4.2).
  auto control = ask(*alice, "p3", change_password("p3", alice_, "tab&#9;inside"));
  ASSERT_TRUE(control.has_value());
  EXPECT_EQ(error_condition(*control), "not-acceptable");
  EXPECT_EQ(try_login(*server_, alice_, "old-secret"), "");
}

TEST_F(Register, RemovingTheAccountEndsItsSessionsAndItsData) {
  auto desk = server_->login(alice_, "old-secret", "desk");
  auto phone = server_->login(alice_, "old-secret", "phone");
  // Something the account owns, to see it go with the account.
  auto v = ask(*desk, "v1", "<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>");
  ASSERT_TRUE(v && v->attr("type") == "result");

  auto r = ask(*desk, "u1", "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->attr("type"), "result") << error_condition(*r);
  // §3.2: every session of the account ends with <not-authorized/>.
  EXPECT_TRUE(desk->wait_closed());
  EXPECT_EQ(desk->stream_error(), "not-authorized");
  EXPECT_TRUE(phone->wait_closed());
  EXPECT_EQ(phone->stream_error(), "not-authorized");

  EXPECT_EQ(try_login(*server_, alice_, "old-secret"), "not-authorized");
  auto list = parley({"user", "list", "localhost", "--config", server_->config_file()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(alice_ + "@localhost"), std::string::npos) << list.out;

  // A new account of the same name starts empty: the vCard went with the old one.
  server_->add_user(alice_ + "@localhost", "another-secret");
  auto again = server_->login(alice_, "another-secret", "desk");
  auto vcard = ask(*again, "v2", "<iq type='get' id='v2'><vCard xmlns='vcard-temp'/></iq>");
  ASSERT_TRUE(vcard && vcard->attr("type") == "result");
  EXPECT_TRUE(vcard->find_child("vCard", "vcard-temp")->children().empty());
}

TEST_F(Register, RemoveMustBeAlone) {
  auto alice = server_->login(alice_, "old-secret", "desk");
  auto r = ask(*alice, "u1", "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/><username>" + alice_ +
                                 "</username></query></iq>");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(error_condition(*r), "bad-request");
  EXPECT_EQ(try_login(*server_, alice_, "old-secret"), "");
}

TEST(RegisterLimit, RequestsPerAddressAreLimited) {
  TestServerOptions options;
  options.modules = kModules;
  options.extra_config = "[host.register]\nper_address_per_hour = 2\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret-0");
  auto alice = server.login("alice", "secret-0", "desk");
  for (int i = 1; i <= 2; ++i) {
    std::string id = "p" + std::to_string(i);
    auto r = ask(*alice, id, change_password(id, "alice", "secret-" + std::to_string(i)));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->attr("type"), "result") << i;
  }
  auto refused = ask(*alice, "p3", change_password("p3", "alice", "secret-3"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(error_condition(*refused), "policy-violation");
  EXPECT_EQ(try_login(server, "alice", "secret-2"), "");
  EXPECT_EQ(try_login(server, "alice", "secret-3"), "not-authorized");
  // The count is per address, not per session: a new connection from it is refused too.
  auto later = server.login("alice", "secret-2", "laptop");
  auto remove = ask(*later, "u1", "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
  ASSERT_TRUE(remove.has_value());
  EXPECT_EQ(error_condition(*remove), "policy-violation");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// §3.1: a new account over TLS, before any authentication.
TEST_F(Register, ANewAccountCanBeRegisteredBeforeLoggingIn) {
  XmppClient c(server_->client());
  auto features = c.connect_tls();
  ASSERT_TRUE(features);
  EXPECT_NE(features->find_child("register", "http://jabber.org/features/iq-register"), nullptr);

  auto form = ask(c, "f1", "<iq type='get' id='f1'><query xmlns='jabber:iq:register'/></iq>");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->attr("type"), "result");
  auto* query = form->find_child("query", kRegisterNs);
  ASSERT_NE(query, nullptr);
  EXPECT_NE(query->find_child("username", kRegisterNs), nullptr);
  EXPECT_NE(query->find_child("password", kRegisterNs), nullptr);

  auto created = ask(c, "r1", "<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>Newbie</username>"
                              "<password>fresh pass</password></query></iq>");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->attr("type"), "result");
  // The same connection goes on to log in with the new account.
  EXPECT_EQ(c.authenticate("SCRAM-SHA-256", "newbie", "fresh pass"), "");
  EXPECT_EQ(try_login(*server_, "newbie", "fresh pass"), "");
}

TEST_F(Register, ATakenNameIsAConflictAndBadInputIsNotAcceptable) {
  XmppClient c(server_->client());
  ASSERT_TRUE(c.connect_tls());
  auto first = ask(c, "a", "<iq type='set' id='a'><query xmlns='jabber:iq:register'><username>taken</username>"
                           "<password>pw</password></query></iq>");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attr("type"), "result");
  auto again = ask(c, "b", "<iq type='set' id='b'><query xmlns='jabber:iq:register'><username>taken</username>"
                           "<password>other</password></query></iq>");
  ASSERT_TRUE(again);
  EXPECT_EQ(error_condition(*again), "conflict");
  EXPECT_EQ(try_login(*server_, "taken", "pw"), "") << "the first password stays";
  auto no_password = ask(c, "c", "<iq type='set' id='c'><query xmlns='jabber:iq:register'><username>x</username>"
                                 "</query></iq>");
  ASSERT_TRUE(no_password);
  EXPECT_EQ(error_condition(*no_password), "not-acceptable");
  auto bad_name = ask(c, "d", "<iq type='set' id='d'><query xmlns='jabber:iq:register'><username>a b@c</username>"
                              "<password>pw</password></query></iq>");
  ASSERT_TRUE(bad_name);
  EXPECT_EQ(error_condition(*bad_name), "not-acceptable");
}

TEST(RegisterPreauth, OtherIqsBeforeLoginStillEndTheStream) {
  TestServer server;  // register is not enabled here
  XmppClient c(server.client());
  auto features = c.connect_tls();
  ASSERT_TRUE(features);
  EXPECT_EQ(features->find_child("register", "http://jabber.org/features/iq-register"), nullptr);
  c.send("<iq type='set' id='r'><query xmlns='jabber:iq:register'><username>x</username><password>y</password></query></iq>");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.stream_error(), "not-authorized");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

TEST(RegisterLimit, NewAccountsPerAddressAreLimited) {
  TestServerOptions options;
  options.modules = kModules;
  options.extra_config = "[host.register]\nper_address_per_hour = 2\n";
  TestServer server(options);
  for (int i = 0; i < 3; ++i) {
    XmppClient c(server.client());
    ASSERT_TRUE(c.connect_tls());
    std::string id = "n" + std::to_string(i);
    auto r = ask(c, id, "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'><username>user" +
                            std::to_string(i) + "</username><password>pw</password></query></iq>");
    ASSERT_TRUE(r);
    if (i < 2) {
      EXPECT_EQ(r->attr("type"), "result") << i;
    } else {
      EXPECT_EQ(error_condition(*r), "policy-violation");
    }
  }
  EXPECT_EQ(parley({"user", "list", "localhost", "--config", server.config_file()}).out,
            "user0@localhost\nuser1@localhost\n");
}

}  // namespace
}  // namespace parley::test
