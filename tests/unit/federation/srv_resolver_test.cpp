// The live resolver against a stub DNS server on 127.0.0.1 (a random port): c-ares is
// pointed at it, so the test needs no network and controls every answer.
#include "federation/srv_resolver.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace parley::federation {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint16_t kTypeA = 1, kTypeAaaa = 28, kTypeSrv = 33;

// A tiny authoritative DNS server over UDP answering from a fixed table. A name with any
// record gets NOERROR (possibly without answers: NODATA); any other name NXDOMAIN; a name
// marked silent is never answered.
class StubDns {
 public:
  StubDns() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("stub DNS: cannot bind");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~StubDns() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  void srv(const std::string& name, std::uint16_t priority, std::uint16_t weight,
           std::uint16_t port, const std::string& target) {
    std::string rdata = u16(priority) + u16(weight) + u16(port) + encode_name(target);
    add(name, kTypeSrv, rdata);
  }
  void a(const std::string& name, const char* address) {
    std::string rdata(4, '\0');
    inet_pton(AF_INET, address, rdata.data());
    add(name, kTypeA, rdata);
  }
  void aaaa(const std::string& name, const char* address) {
    std::string rdata(16, '\0');
    inet_pton(AF_INET6, address, rdata.data());
    add(name, kTypeAaaa, rdata);
  }
  void exists(const std::string& name) { add(name, 0, {}); }  // NODATA for every type
  void silent(const std::string& name) {
    std::lock_guard lock(mutex_);
    silent_.insert(lower(name));
  }

  void start() {
    thread_ = std::thread([this] { serve(); });
  }
  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> queries() {
    std::lock_guard lock(mutex_);
    return queries_;
  }

 private:
  static std::string u16(std::uint16_t v) {
    return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
  }
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static std::string encode_name(const std::string& name) {
    std::string out;
    std::size_t start = 0;
    while (start < name.size()) {
      std::size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      out += static_cast<char>(dot - start);
      out += name.substr(start, dot - start);
      start = dot + 1;
    }
    return out + '\0';  // "." and "" both encode as the root
  }
  void add(const std::string& name, std::uint16_t type, std::string rdata) {
    std::lock_guard lock(mutex_);
    names_.insert(lower(name));
    if (type != 0) records_[{lower(name), type}].push_back(std::move(rdata));
  }

  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[1500];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 17) continue;
      std::string query(buf, static_cast<std::size_t>(n));
      std::string answer = respond(query);
      if (!answer.empty()) {
        ::sendto(fd_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      }
    }
  }

  std::string respond(const std::string& q) {
    // Question: labels from offset 12, then QTYPE and QCLASS.
    std::string name;
    std::size_t i = 12;
    while (i < q.size() && q[i] != 0) {
      std::size_t len = static_cast<unsigned char>(q[i]);
      if (!name.empty()) name += '.';
      name += q.substr(i + 1, len);
      i += len + 1;
    }
    if (i + 5 > q.size()) return {};
    std::size_t question_end = i + 5;
    std::uint16_t type = static_cast<std::uint16_t>((static_cast<unsigned char>(q[i + 1]) << 8) |
                                                    static_cast<unsigned char>(q[i + 2]));
    std::lock_guard lock(mutex_);
    name = lower(name);
    queries_.push_back(name + "/" + std::to_string(type));
    if (silent_.count(name)) return {};
    bool exists = names_.count(name) != 0;
    auto it = records_.find({name, type});
    std::size_t count = exists && it != records_.end() ? it->second.size() : 0;

    std::string r = q.substr(0, 2);                      // id
    r += static_cast<char>(0x84 | (q[2] & 0x01));        // QR, AA, RD copied
    r += static_cast<char>(0x80 | (exists ? 0 : 3));     // RA, NOERROR or NXDOMAIN
    r += u16(1) + u16(static_cast<std::uint16_t>(count)) + u16(0) + u16(0);
    r += q.substr(12, question_end - 12);
    for (std::size_t k = 0; k < count; ++k) {
      const std::string& rdata = it->second[k];
      r += "\xc0\x0c";  // the name of the question
      r += u16(type) + u16(1) + u16(0) + u16(60) + u16(static_cast<std::uint16_t>(rdata.size()));
      r += rdata;
    }
    return r;
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::set<std::string> names_, silent_;
  std::map<std::pair<std::string, std::uint16_t>, std::vector<std::string>> records_;
  std::vector<std::string> queries_;
};

class SrvResolverTest : public ::testing::Test {
 protected:
  ResolverOptions options() {
    ResolverOptions o;
    o.servers = dns_.servers();
    o.query_timeout = 300ms;
    o.tries = 1;
    o.deadline = 3s;
    o.seed = 7;
    return o;
  }

  // Runs one resolve() on the io_context until it completes (bounded).
  ResolveResult resolve(SrvResolver& resolver, const std::string& domain) {
    auto future = asio::co_spawn(ctx_, resolver.resolve(domain), asio::use_future);
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (future.wait_for(0s) != std::future_status::ready &&
           std::chrono::steady_clock::now() < give_up) {
      ctx_.restart();
      ctx_.run_one_for(50ms);
    }
    if (future.wait_for(0s) != std::future_status::ready) {
      ADD_FAILURE() << "resolve(" << domain << ") did not complete";
      return {};
    }
    return future.get();
  }

  void SetUp() override { dns_.start(); }

  StubDns dns_;
  asio::io_context ctx_;
};

std::vector<std::string> hosts_of(const ResolveResult& r) {
  std::vector<std::string> out;
  for (const auto& c : r.candidates) {
    out.push_back(c.host + ":" + std::to_string(c.port) + (c.direct_tls ? "/tls" : ""));
  }
  return out;
}

std::vector<std::string> addresses_of(const ResolvedCandidate& c) {
  std::vector<std::string> out;
  for (const auto& a : c.addresses) out.push_back(a.to_string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(SrvResolverTest, SrvRecordsOfBothKindsInOrderWithAddresses) {
  dns_.srv("_xmpps-server._tcp.example.test", 5, 0, 5270, "tls.example.test");
  dns_.srv("_xmpp-server._tcp.example.test", 10, 0, 5269, "xmpp.example.test");
  dns_.srv("_xmpp-server._tcp.example.test", 20, 0, 5269, "backup.example.test");
  dns_.a("tls.example.test", "192.0.2.1");
  dns_.a("xmpp.example.test", "192.0.2.2");
  dns_.aaaa("xmpp.example.test", "2001:db8::2");
  dns_.a("backup.example.test", "192.0.2.3");
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "example.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::srv);
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"tls.example.test:5270/tls",
                                                   "xmpp.example.test:5269",
                                                   "backup.example.test:5269"}));
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_EQ(addresses_of(r.candidates[1]), (std::vector<std::string>{"192.0.2.2", "2001:db8::2"}));
  EXPECT_EQ(addresses_of(r.candidates[2]), (std::vector<std::string>{"192.0.2.3"}));
}

TEST_F(SrvResolverTest, NoSrvRecordsFallsBackToTheDomainOn5269) {
  dns_.a("plain.test", "192.0.2.10");
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "Plain.TEST.");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::fallback);
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"plain.test:5269"}));
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"192.0.2.10"}));
  auto queries = dns_.queries();
  EXPECT_NE(std::find(queries.begin(), queries.end(), "_xmpp-server._tcp.plain.test/33"), queries.end());
  EXPECT_NE(std::find(queries.begin(), queries.end(), "_xmpps-server._tcp.plain.test/33"), queries.end());
}

TEST_F(SrvResolverTest, DotTargetMeansServiceNotAvailable) {
  dns_.srv("_xmpp-server._tcp.nope.test", 0, 0, 0, ".");
  dns_.a("nope.test", "192.0.2.20");  // must not be used: no fallback
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "nope.test");
  EXPECT_EQ(r.error, ResolveError::service_unavailable) << r.reason;
  EXPECT_TRUE(r.candidates.empty());
}

TEST_F(SrvResolverTest, NonexistentDomain) {
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "missing.test");
  EXPECT_EQ(r.error, ResolveError::nxdomain) << r.reason;
  EXPECT_EQ(r.reason, "missing.test does not exist (NXDOMAIN)");
}

TEST_F(SrvResolverTest, DomainWithoutAddresses) {
  dns_.exists("empty.test");
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "empty.test");
  EXPECT_EQ(r.error, ResolveError::no_address) << r.reason;
}

TEST_F(SrvResolverTest, TargetsWithoutAddressesAreLeftOut) {
  dns_.srv("_xmpp-server._tcp.partial.test", 1, 0, 5269, "gone.partial.test");
  dns_.srv("_xmpp-server._tcp.partial.test", 2, 0, 5269, "xmpp.partial.test");
  dns_.a("xmpp.partial.test", "192.0.2.30");
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "partial.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"xmpp.partial.test:5269"}));

  dns_.srv("_xmpp-server._tcp.broken.test", 1, 0, 5269, "gone1.broken.test");
  dns_.srv("_xmpp-server._tcp.broken.test", 2, 0, 5269, "gone2.broken.test");
  r = resolve(resolver, "broken.test");
  EXPECT_EQ(r.error, ResolveError::no_address);
  EXPECT_NE(r.reason.find("gone1.broken.test (NXDOMAIN)"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("gone2.broken.test (NXDOMAIN)"), std::string::npos) << r.reason;
}

TEST_F(SrvResolverTest, SilentServerTimesOutWithinTheBound) {
  dns_.silent("_xmpp-server._tcp.slow.test");
  dns_.silent("_xmpps-server._tcp.slow.test");
  dns_.silent("slow.test");
  SrvResolver resolver(ctx_.get_executor(), options());
  auto start = std::chrono::steady_clock::now();
  ResolveResult r = resolve(resolver, "slow.test");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, ResolveError::timeout) << r.reason;
  EXPECT_EQ(r.reason,
            "the DNS lookup of _xmpp-server._tcp.slow.test timed out; trying slow.test:5269; "
            "no address for slow.test (timed out)");
  // c-ares's own timeouts (300 ms, one try) ended it: SRV, then A/AAAA.
  EXPECT_GE(took, 550ms);
  EXPECT_LT(took, 3s);
}

TEST_F(SrvResolverTest, NoSrvAnswerFallsBackToTheAddress) {
  // RFC 6120 §3.2.1: no response to the SRV query, so A/AAAA on port 5269.
  dns_.silent("_xmpp-server._tcp.half.test");
  dns_.silent("_xmpps-server._tcp.half.test");
  dns_.a("half.test", "192.0.2.80");
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "half.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::fallback);
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"half.test:5269"}));
}

TEST_F(SrvResolverTest, DeadlineBoundsTheWholeResolve) {
  dns_.silent("_xmpp-server._tcp.slow.test");
  dns_.silent("_xmpps-server._tcp.slow.test");
  dns_.silent("slow.test");
  ResolverOptions o = options();
  o.query_timeout = 5000ms;  // c-ares would wait longer than the deadline
  o.deadline = 400ms;
  SrvResolver resolver(ctx_.get_executor(), o);
  auto start = std::chrono::steady_clock::now();
  ResolveResult r = resolve(resolver, "slow.test");
  EXPECT_EQ(r.error, ResolveError::timeout) << r.reason;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(SrvResolverTest, StaticRoutesComeFirstAndNeedNoDns) {
  dns_.srv("_xmpp-server._tcp.other.test", 0, 0, 5269, "xmpp.other.test");
  ResolverOptions o = options();
  o.routes = {{"other.test", "127.0.0.2:5270"}, {"v6.test", "[::1]:5271"},
              {"named.test", "relay.example.test:5272"}, {"bad.test", "nonsense"}};
  dns_.a("relay.example.test", "192.0.2.40");
  SrvResolver resolver(ctx_.get_executor(), o);

  ResolveResult r = resolve(resolver, "OTHER.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::route);
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"127.0.0.2:5270"}));
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"127.0.0.2"}));
  EXPECT_TRUE(dns_.queries().empty()) << "a static route asks no DNS";

  r = resolve(resolver, "v6.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"::1"}));

  r = resolve(resolver, "named.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"relay.example.test:5272"}));
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"192.0.2.40"}));

  r = resolve(resolver, "bad.test");
  EXPECT_EQ(r.error, ResolveError::failure);
  EXPECT_NE(r.reason.find("nonsense"), std::string::npos) << r.reason;
}

TEST_F(SrvResolverTest, InternationalizedDomainsAreAskedAsALabels) {
  dns_.srv("_xmpp-server._tcp.xn--bcher-kva.test", 0, 0, 5269, "xmpp.xn--bcher-kva.test");
  dns_.a("xmpp.xn--bcher-kva.test", "192.0.2.50");
  ResolverOptions o = options();
  o.routes = {{"café.test", "127.0.0.3:5269"}};
  SrvResolver resolver(ctx_.get_executor(), o);
  ResolveResult r = resolve(resolver, "Bücher.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"xmpp.xn--bcher-kva.test:5269"}));
  // A route written with U-labels applies to the A-label form too.
  r = resolve(resolver, "xn--caf-dma.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::route);
}

TEST_F(SrvResolverTest, IpLiteralsAndBadDomains) {
  SrvResolver resolver(ctx_.get_executor(), options());
  ResolveResult r = resolve(resolver, "192.0.2.60");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.source, ResolveResult::Source::ip_literal);
  EXPECT_EQ(hosts_of(r), (std::vector<std::string>{"192.0.2.60:5269"}));
  r = resolve(resolver, "[2001:db8::60]");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(addresses_of(r.candidates[0]), (std::vector<std::string>{"2001:db8::60"}));
  r = resolve(resolver, "bad domain.test");
  EXPECT_EQ(r.error, ResolveError::bad_domain);
  EXPECT_TRUE(dns_.queries().empty());
}

TEST_F(SrvResolverTest, ManyResolvesAtOnce) {
  for (int i = 0; i < 20; ++i) {
    std::string d = "d" + std::to_string(i) + ".test";
    dns_.srv("_xmpp-server._tcp." + d, 0, 0, 5269, "xmpp." + d);
    dns_.a("xmpp." + d, "192.0.2.70");
  }
  SrvResolver resolver(ctx_.get_executor(), options());
  std::vector<std::future<ResolveResult>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(asio::co_spawn(ctx_, resolver.resolve("d" + std::to_string(i) + ".test"),
                                     asio::use_future));
  }
  auto give_up = std::chrono::steady_clock::now() + 10s;
  for (auto& f : futures) {
    while (f.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < give_up) {
      ctx_.restart();
      ctx_.run_one_for(50ms);
    }
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
    ResolveResult r = f.get();
    EXPECT_TRUE(r.ok()) << r.reason;
  }
}

TEST_F(SrvResolverTest, DestroyingTheResolverEndsPendingResolves) {
  dns_.silent("_xmpp-server._tcp.slow.test");
  dns_.silent("_xmpps-server._tcp.slow.test");
  auto resolver = std::make_unique<SrvResolver>(ctx_.get_executor(), options());
  auto future = asio::co_spawn(ctx_, resolver->resolve("slow.test"), asio::use_future);
  for (int i = 0; i < 5; ++i) ctx_.run_one_for(10ms);  // the queries are out
  resolver.reset();
  auto give_up = std::chrono::steady_clock::now() + 5s;
  while (future.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < give_up) {
    ctx_.restart();
    ctx_.run_one_for(50ms);
  }
  ASSERT_EQ(future.wait_for(0s), std::future_status::ready);
  ResolveResult r = future.get();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error, ResolveError::none);
}

TEST(SrvResolverSetup, MalformedServersAreRefused) {
  asio::io_context ctx;
  ResolverOptions o;
  o.servers = "not an address";
  EXPECT_THROW(SrvResolver(ctx.get_executor(), o), std::runtime_error);
}

}  // namespace
}  // namespace parley::federation
