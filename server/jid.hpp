#pragma once
// XMPP addresses (RFC 7622): [ localpart "@" ] domainpart [ "/" resourcepart ].
//
// Every Jid that exists is valid and prepared: its localpart went through the PRECIS
// UsernameCaseMapped profile (RFC 8265 §3.3) and the extra exclusions of RFC 7622 §3.3.1,
// its domainpart through UTS 46 / IDNA2008 and is stored in Unicode (U-label) form, its
// resourcepart through the OpaqueString profile (RFC 8265 §4.2). Two Jids are equal
// exactly when they denote the same address, so `==` and std::hash<Jid> are what the
// router and the session table compare.
//
// Parsing untrusted input never throws (only std::bad_alloc can escape): a bad address is
// std::nullopt, for the caller to turn into a jid-malformed stanza or stream error.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace parley::server {

/// The most bytes a localpart, domainpart or resourcepart may have once prepared
/// (RFC 7622 §3.2, §3.3, §3.4).
inline constexpr std::size_t kMaxJidPartBytes = 1023;

/// Prepares a domainpart (RFC 7622 §3.2): nullopt unless `domain` is an IPv4 address, an
/// IPv6 address in brackets (both kept exactly as given), or a domain name that UTS 46
/// processing (nontransitional, STD3 ASCII rules, CheckBidi, CheckJoiners, plus the
/// IDNA2008 CONTEXTO rules) accepts without error. A-labels become U-labels, the UTS 46
/// mapping lower-cases, one trailing dot (a label separator, so also U+3002 and the like)
/// is removed, and the result is 1..1023 bytes. A last label made of digits only that is
/// not part of an IPv4 address is refused (RFC 3696 §2: no all-numeric TLD).
/// Thread-safe: uses one ICU UTS 46 object, created on first use, whose const methods ICU
/// documents as thread-safe.
std::optional<std::string> normalize_domain(std::string_view domain);

/// Prepares a localpart (RFC 7622 §3.3): PRECIS UsernameCaseMapped, then none of
/// " & ' / : < > @ (RFC 7622 §3.3.1), then 1..1023 bytes. Thread-safe.
std::optional<std::string> normalize_localpart(std::string_view local);

/// Prepares a resourcepart (RFC 7622 §3.4): PRECIS OpaqueString, then 1..1023 bytes.
/// Case, spaces and '@' / '/' are kept. Thread-safe.
std::optional<std::string> normalize_resourcepart(std::string_view resource);

/// A valid, prepared XMPP address. A small value type (one string plus two lengths): copy
/// it freely. Immutable once made, so a Jid may be read from any number of threads; the
/// functions that make one are thread-safe too. There is no default constructor: an
/// address that may be missing is a std::optional<Jid>.
class Jid {
 public:
  /// Parses and prepares `text` (RFC 7622 §3.1): the resourcepart is everything after the
  /// FIRST '/', the localpart whatever precedes the first '@' before that '/'. A separator
  /// with nothing on its side ("@d", "l@", "d/", "/r") is invalid, as is any part that is
  /// refused by its preparation (see the normalize_* functions above) or is longer than
  /// 1023 bytes once prepared. Input that is not UTF-8 is invalid. A part longer than
  /// 4092 bytes before preparation is refused without looking at it.
  static std::optional<Jid> parse(std::string_view text);

  /// Builds a Jid from separate parts, each prepared as parse() would; an empty `local`
  /// or `resource` means that part is absent. `domain` is required.
  static std::optional<Jid> make(std::string_view local, std::string_view domain,
                                 std::string_view resource = {});

  /// The prepared parts; empty when absent.
  std::string_view local() const { return std::string_view(full_).substr(0, local_len_); }
  std::string_view domain() const {
    return std::string_view(full_).substr(domain_begin(), domain_len_);
  }
  std::string_view resource() const {
    std::size_t end = domain_begin() + domain_len_;
    return end < full_.size() ? std::string_view(full_).substr(end + 1) : std::string_view();
  }

  bool has_local() const { return local_len_ != 0; }
  bool has_resource() const { return full_.size() > domain_begin() + domain_len_; }
  /// True when there is no resourcepart ("juliet@example.com", "example.com").
  bool is_bare() const { return !has_resource(); }

  /// This address without its resourcepart (itself when already bare).
  Jid bare() const;
  /// This address's bare part with `resource` as its resourcepart (RFC 6120 §7 bind);
  /// nullopt if `resource` is refused by normalize_resourcepart().
  std::optional<Jid> with_resource(std::string_view resource) const;

  /// The canonical string form, "local@domain/resource" with absent parts left out.
  /// parse(full()) gives back an equal Jid.
  const std::string& full() const { return full_; }
  const std::string& str() const { return full_; }

  friend bool operator==(const Jid&, const Jid&) = default;
  /// An arbitrary but stable total order (by the string form), for sorted containers.
  friend std::strong_ordering operator<=>(const Jid&, const Jid&) = default;

 private:
  Jid(std::string full, std::uint16_t local_len, std::uint16_t domain_len)
      : full_(std::move(full)), local_len_(local_len), domain_len_(domain_len) {}
  static std::optional<Jid> assemble(std::optional<std::string_view> local,
                                     std::string_view domain,
                                     std::optional<std::string_view> resource);
  std::size_t domain_begin() const { return local_len_ == 0 ? 0 : local_len_ + 1u; }

  std::string full_;            // the canonical string form
  std::uint16_t local_len_;     // 0 when there is no localpart
  std::uint16_t domain_len_;    // never 0
};

/// Writes full().
std::ostream& operator<<(std::ostream& out, const Jid& jid);

}  // namespace parley::server

/// Hashes the canonical string form; consistent with operator==.
template <>
struct std::hash<parley::server::Jid> {
  std::size_t operator()(const parley::server::Jid& jid) const noexcept {
    return std::hash<std::string>{}(jid.full());
  }
};
