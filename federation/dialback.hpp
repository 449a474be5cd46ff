#pragma once
// Server dialback (XEP-0220), the Receiving Server's question to the Authoritative Server:
// for a peer that asked to be `originating` on a stream we gave the id `stream_id`, connect
// to `originating` (resolved like any link) and ask whether `key` is the key it made for
// (receiving, originating, stream_id). Only an answer with the same from, to and id counts
// (§2.4), so an answer can never be taken for another request's.
//
// Dialback proves that the peer can receive traffic for `originating` in DNS, no more; it
// is used only where [federation] dialback allows it (docs/federation.md).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <string>

namespace parley::federation {

class Federation;

/// True when the authoritative server confirmed the key; false (logged) otherwise, also
/// when it cannot be reached within [federation] connect_timeout.
boost::asio::awaitable<bool> verify_dialback_key(Federation& federation, boost::asio::any_io_executor executor,
                                                 std::string receiving, std::string originating,
                                                 std::string stream_id, std::string key);

}  // namespace parley::federation
