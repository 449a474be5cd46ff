#pragma once
// Connecting out to another domain, for links (outbound_link.hpp) and for dialback
// verification (dialback.hpp): resolve ([federation] routes, SRV, A/AAAA), then each address
// in order, all within [federation] connect_timeout: TCP, direct TLS or STARTTLS (required:
// nothing is ever sent in the clear), the stream headers, and then the caller's own step on
// the secured stream. The first address where that step succeeds wins.
//
// Threads: used by one coroutine on `executor`; abort() from that executor too.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>

#include "federation/s2s_connection.hpp"

namespace parley::federation {

class Federation;
struct ResolvedCandidate;

/// The peer's side of a stream we opened: its stream id and its features.
struct OpenedStream {
  bool ok = false;
  std::string stream_id;
  server::xml::Element features{"features", std::string(server::xml::kStreamNs)};
};

class Dialer {
 public:
  /// What the caller does once the stream is secured (authenticate, verify a key...).
  class Step {
   public:
    virtual ~Step() = default;
    /// True when done; on false, dialer.fail() says why and the next address is tried.
    virtual boost::asio::awaitable<bool> after_tls(Dialer& dialer, S2sConnection& conn,
                                                   const OpenedStream& stream) = 0;
  };

  Dialer(Federation& federation, boost::asio::any_io_executor executor, std::string local, std::string remote,
         std::string label);

  /// Tries the addresses of `remote` in order until `step` succeeds: that connection, or
  /// null with failure().
  boost::asio::awaitable<std::unique_ptr<S2sConnection>> dial(Step& step);
  /// Sends our stream header and reads the peer's header and features (again after SASL).
  boost::asio::awaitable<OpenedStream> open_stream(S2sConnection& conn);

  void fail(std::string reason, bool timeout = false);
  const std::string& failure() const { return failure_; }
  bool timed_out() const { return timeout_; }
  const std::string& local() const { return local_; }
  const std::string& remote() const { return remote_; }
  const std::string& label() const { return label_; }
  /// Ends the attempt in progress; dial() then fails.
  void abort();

 private:
  boost::asio::awaitable<bool> attempt(S2sConnection& conn, const ResolvedCandidate& candidate,
                                       const boost::asio::ip::address& address, Step& step);

  Federation& federation_;
  boost::asio::any_io_executor executor_;
  std::string local_, remote_, label_;
  std::string failure_;
  bool timeout_ = false;
  bool aborted_ = false;
  S2sConnection* current_ = nullptr;
};

}  // namespace parley::federation
