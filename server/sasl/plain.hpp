#pragma once
// SASL PLAIN (RFC 4616) against parley's stored SCRAM credentials. The server keeps no
// password hashes other than SCRAM's, so a PLAIN password is checked by deriving StoredKey
// from it with the account's salt and iteration count (RFC 5802 §3) and comparing. Offered
// only over TLS (mechanisms.hpp). Pure: no I/O, no database; the session looks the
// credentials up between parse() and verify().

#include <optional>
#include <string>
#include <string_view>

#include "server/credentials.hpp"
#include "server/crypto.hpp"
#include "server/sasl/mechanisms.hpp"

namespace parley::server::sasl {

/// Longest authzid, authcid or password accepted, in bytes. RFC 4616 §2 asks servers to
/// accept at least 255; a JID part may have 1023 (RFC 7622 §3.1).
inline constexpr std::size_t kMaxPlainField = 1023;

/// True when `prepared_password` yields the credential's StoredKey. With no keys (unknown
/// account, keys that would not open) the same derivation is done against random keys and
/// the answer is false: same work, same answer as a wrong password. A credential with an
/// empty salt or a count below 1 is refused (after the same dummy work). Thread-safe: pure.
bool verify_password(crypto::Hash hash, std::string_view prepared_password,
                     const ScramLookup& credentials);

/// The server side of one PLAIN exchange: parse() the initial response, look up the
/// authcid's credentials, verify() them. The password lives in the object only between
/// the two calls and is wiped (OPENSSL_cleanse) by verify() and by the destructor. Neither
/// copyable nor movable. Thread-safety: one object per exchange; not for sharing.
class PlainServer {
 public:
  /// Outcome of parse().
  struct Request {
    std::optional<SaslFailure> failure;  ///< set: send <failure/>, the exchange is over
    /// The authcid as sent (valid UTF-8, not empty); preparing it into a JID localpart is
    /// the caller's job.
    std::string authcid;
    /// The authzid when one was sent (not empty); the caller decides whether the user may
    /// act as it (invalid_authzid if not; RFC 6120 §6.4.6).
    std::optional<std::string> authzid;
    bool ok() const { return !failure; }
  };

  /// Outcome of verify().
  struct Result {
    std::optional<SaslFailure> failure;  ///< not_authorized for any wrong credential
    bool ok() const { return !failure; }
  };

  PlainServer() = default;
  ~PlainServer();
  PlainServer(const PlainServer&) = delete;
  PlainServer& operator=(const PlainServer&) = delete;

  /// Parses "[authzid] NUL authcid NUL passwd" (RFC 4616 §2). malformed_request when a NUL
  /// is missing or extra, authcid or password is empty, a field is longer than
  /// kMaxPlainField or is not valid UTF-8. Only the first call may succeed.
  Request parse(std::string_view message);

  /// Checks the password against the authcid's credentials for `hash` (SCRAM-SHA-256 is
  /// what every account has). The password is prepared with the OpaqueString profile
  /// (RFC 8265 §4.2), as it was when the credential was made; one that the profile refuses
  /// gets the same dummy work and not_authorized. Fails if parse() did not succeed first,
  /// or on a second call.
  Result verify(const ScramLookup& credentials, crypto::Hash hash = crypto::Hash::sha256);

 private:
  enum class State { initial, parsed, done };
  State state_ = State::initial;
  std::string password_;
};

}  // namespace parley::server::sasl
