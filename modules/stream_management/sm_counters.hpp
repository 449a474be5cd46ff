#pragma once
// The counting rules of XEP-0198 stream management, free of Asio so they compile and test
// fast: the client's stanzas the server has handled (its 'h'), and the stanzas sent to the
// client that it has not acknowledged yet. Counts wrap at 2^32 (XEP-0198 §4).
// Not thread-safe: the owner locks.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/stanza.hpp"

namespace parley::modules::stream_management {

inline constexpr std::string_view kSmNs = "urn:xmpp:sm:3";

/// Stanzas received from the client. A stanza counts as handled once its own work and every
/// stanza before it are done (acknowledgements are cumulative), whatever order work ends in.
class Inbound {
 public:
  /// A stanza arrived: its ticket for complete() (never reused).
  std::uint64_t receive();
  /// The stanza of `ticket` has been handled (routed and durable).
  void complete(std::uint64_t ticket);
  /// At a resumption the server answers with handled() (XEP-0198 §5), and the client sends
  /// again what that does not count: what was received and not handled yet is forgotten
  /// here (its late completions count for nothing), and counting goes on from handled().
  void rewind();
  std::uint32_t received() const { return received_; }
  std::uint32_t handled() const { return handled_; }
  /// Every stanza up to `target` (a received() value) has been handled.
  bool caught_up(std::uint32_t target) const { return static_cast<std::int32_t>(handled_ - target) >= 0; }

 private:
  std::uint32_t received_ = 0;
  std::uint32_t handled_ = 0;
  std::uint64_t tickets_ = 0;  // issued so far
  std::uint64_t first_ = 1;    // the ticket of done_.front()
  std::deque<bool> done_;      // for the stanzas after handled_, up to received_
};

/// A stanza written to the client, kept until it acknowledges it.
struct Sent {
  server::Stanza stanza;
  std::string xml;
};

/// Stanzas sent to the client and not acknowledged yet, oldest first.
class Unacked {
 public:
  void push(Sent sent) { items_.push_back(std::move(sent)); }
  /// The client has handled `h` stanzas in all (XEP-0198 <a h/>): drops those. False when `h`
  /// is more than was sent (XEP-0198 §4 handled-count-too-high); nothing changes then.
  bool ack(std::uint32_t h);
  std::uint32_t acked() const { return acked_; }
  std::uint32_t sent() const { return acked_ + static_cast<std::uint32_t>(items_.size()); }
  std::size_t size() const { return items_.size(); }
  const std::deque<Sent>& items() const { return items_; }
  std::deque<Sent> take() { return std::exchange(items_, {}); }

 private:
  std::uint32_t acked_ = 0;
  std::deque<Sent> items_;
};

/// An 'h' attribute: a decimal unsigned 32-bit integer (XEP-0198 §4); nullopt otherwise.
std::optional<std::uint32_t> parse_h(std::string_view text);

/// What goes to offline storage when a session ends without the client acknowledging it
/// (like Prosody's mod_smacks and ejabberd's resend_on_timeout): messages of type chat or
/// normal (or none) with a <body/>; not errors, headlines, groupchat or chat states alone.
bool goes_offline(const server::Stanza& stanza);

}  // namespace parley::modules::stream_management
