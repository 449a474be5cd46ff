#pragma once
// SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), with and without channel binding
// (-PLUS, RFC 5802 §6; tls-exporter per RFC 9266), as state machines: no I/O, no Asio, no
// database. The c2s session feeds them the decoded payloads of <auth/> and <response/>
// (RFC 6120 §6.4) and looks credentials up between steps, asynchronously:
//
//   ScramServer scram(crypto::Hash::sha256, /*plus=*/true, channel_binding_info);
//   auto first = scram.first(client_first);           // <auth mechanism='...'>
//   if (!first.ok()) -> <failure><condition/></failure>
//   ScramLookup creds = co_await accounts.scram(jid_of(first.username), hash);
//   send <challenge> scram.server_first(creds)
//   auto fin = scram.final(client_final);              // <response>
//   fin.ok() ? <success>fin.server_final</success> : <failure>...
//
// An unknown account (a ScramLookup without keys) goes through the same steps and the same
// computations as a wrong password and ends with the same not_authorized.

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/credentials.hpp"
#include "server/crypto.hpp"
#include "server/sasl/mechanisms.hpp"

namespace parley::server::sasl {

/// Channel-binding type names (RFC 9266 §2, RFC 5929 §3 and §4).
inline constexpr std::string_view kTlsExporter = "tls-exporter";
inline constexpr std::string_view kTlsUnique = "tls-unique";
inline constexpr std::string_view kTlsServerEndPoint = "tls-server-end-point";

/// Longest SCRAM message accepted from a peer, in bytes. Real ones are under 300 bytes.
inline constexpr std::size_t kMaxScramMessage = 4096;
/// Random bytes in a nonce we make; base64 of 18 bytes is 24 characters without padding.
inline constexpr std::size_t kScramNonceBytes = 18;
/// RFC 7677 §4 / RFC 5802 §5.1: a client refuses an iteration count below 4096.
inline constexpr int kMinScramIterations = 4096;
/// ScramClient refuses a count above this: a hostile server could otherwise make it spin.
inline constexpr int kMaxScramIterations = 10'000'000;

/// What the connection knows about channel binding, for one exchange. Filled by the session
/// from its TLS stream. Thread-safety: a plain value; `data` is called only from the
/// ScramServer's thread, during first().
struct ChannelBindingInfo {
  /// The server advertised some -PLUS mechanism on this connection (RFC 5802 §6: a "y"
  /// flag is then a downgrade attack).
  bool server_supports_plus = false;
  /// The channel-binding types offered, e.g. {"tls-exporter", "tls-server-end-point"}.
  std::vector<std::string> types;
  /// The binding data of a type for this TLS connection (for tls-exporter, RFC 9266 §2:
  /// 32 bytes exported with label "EXPORTER-Channel-Binding" and an empty context);
  /// nullopt if unavailable.
  std::function<std::optional<std::string>(std::string_view type)> data;
};

/// The server side of one SCRAM exchange (RFC 5802 §5, §7). Drive it in order: first(),
/// server_first(), final(); any call out of order, a second call to final() included,
/// fails the exchange. The object holds StoredKey and ServerKey while it lives and wipes
/// them when it ends. Neither copyable nor movable (hold it in an optional or unique_ptr).
/// Thread-safety: one object per exchange, used by one session; not for sharing.
class ScramServer {
 public:
  /// Outcome of the client-first message.
  struct ClientFirst {
    std::optional<SaslFailure> failure;  ///< set: send <failure/>, the exchange is over
    /// The authcid, "=2C"/"=3D" decoded, valid UTF-8; not yet prepared: turning it into a
    /// JID (PRECIS UsernameCaseMapped, RFC 8265 §3.3) is the caller's job.
    std::string username;
    /// The decoded "a=" authzid, if sent. Whether the user may act as it is the caller's
    /// decision (invalid_authzid if not; RFC 6120 §6.4.6).
    std::optional<std::string> authzid;
    /// The "p=" channel-binding type when one was used, else empty.
    std::string channel_binding_type;
    bool ok() const { return !failure; }
  };

  /// Outcome of the client-final message.
  struct Final {
    std::optional<SaslFailure> failure;  ///< set: send <failure/>
    std::string server_final;            ///< "v=<base64 ServerSignature>", for <success/>
    bool ok() const { return !failure; }
  };

  /// `plus`: this is a -PLUS mechanism (channel binding required). `channel_binding`
  /// describes what the connection offers; it matters for -PLUS and for the "y" flag.
  ScramServer(crypto::Hash hash, bool plus, ChannelBindingInfo channel_binding = {});
  ~ScramServer();
  ScramServer(const ScramServer&) = delete;
  ScramServer& operator=(const ScramServer&) = delete;

  /// Tests only: the server nonce to append instead of a random one (printable, no ',').
  void set_server_nonce_for_testing(std::string nonce);

  /// Parses the client-first message (RFC 5802 §7 gs2-header and client-first-message-bare)
  /// and applies the channel-binding rules of RFC 5802 §6.
  ClientFirst first(std::string_view client_first_message);

  /// The server-first message "r=<client nonce><server nonce>,s=<salt>,i=<count>" for the
  /// account's credentials (real or fake salt; keys absent for an unknown account).
  /// Returns an empty string, and fails the exchange, if called out of order or with a
  /// lookup without a salt or with a count below 1 (a caller bug).
  std::string server_first(const ScramLookup& credentials);

  /// Verifies the client-final message (RFC 5802 §5.1, §3): channel binding, nonce, proof.
  /// Success carries the server-final message.
  Final final(std::string_view client_final_message);

 private:
  enum class State { initial, got_client_first, sent_server_first, done };

  std::optional<SaslFailure> check_channel_binding(std::string_view flag);
  void wipe();

  crypto::Hash hash_;
  bool plus_;
  ChannelBindingInfo channel_binding_;
  State state_ = State::initial;
  std::string injected_server_nonce_;
  std::string gs2_header_;         // as sent, with both commas: "n,," / "p=tls-exporter,a=x,"
  std::string channel_binding_data_;
  std::string client_first_bare_;
  std::string client_nonce_;
  std::string nonce_;              // client nonce + server nonce
  std::string server_first_;
  ScramKeys keys_;                 // the account's, or random ones when it has none
  bool have_keys_ = false;
};

/// Channel binding a ScramClient uses: the type and its data for this TLS connection.
struct ClientChannelBinding {
  std::string type;
  std::string data;
};

/// The client's SaltedPassword per (mechanism, username, password, salt, iteration count),
/// so that logging in to the same account again skips PBKDF2, as RFC 5802 §5.1 allows
/// ("a client implementation MAY cache ClientKey&ServerKey (or just SaltedPassword)") and
/// as mobile clients do. parley-bench shares one between its connections so that the load
/// generator measures the server, not its own PBKDF2. Thread-safe; entries are wiped with
/// the cache. Keys hold a digest of the password, never the password.
class SaltedPasswordCache {
 public:
  SaltedPasswordCache() = default;
  ~SaltedPasswordCache();
  SaltedPasswordCache(const SaltedPasswordCache&) = delete;
  SaltedPasswordCache& operator=(const SaltedPasswordCache&) = delete;

  /// SaltedPassword, from the cache or computed (and then kept).
  crypto::Bytes salted_password(crypto::Hash hash, std::string_view username, std::string_view password,
                                std::string_view salt, int iterations);
  std::size_t hits() const;
  std::size_t misses() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, crypto::Bytes> entries_;
  std::size_t hits_ = 0;
  std::size_t misses_ = 0;
};

/// How a ScramClient presents itself, beyond user name and password.
struct ScramClientOptions {
  std::string authzid{};  ///< sent as "a=" when not empty
  /// Set: "p=<type>" and the data goes into c= (use it with a -PLUS mechanism).
  std::optional<ClientChannelBinding> channel_binding{};
  /// Without channel_binding: the client could bind but the server offered no -PLUS, so the
  /// flag is "y" instead of "n" (RFC 5802 §6).
  bool supports_channel_binding = false;
  std::string nonce{};  ///< tests: the client nonce (printable, no ','); empty = random
  /// Set: SaltedPassword comes from (and goes into) this cache; it must outlive the client.
  SaltedPasswordCache* salted_password_cache = nullptr;
};

/// The client side of one SCRAM exchange, for the test suite and parley-bench. first(),
/// then final(server-first), then verify(server-final). The password must already be
/// prepared (OpaqueString, RFC 8265 §4.2); it is wiped with the object. Neither copyable
/// nor movable. Thread-safety: one object per exchange; not for sharing.
class ScramClient {
 public:
  ScramClient(crypto::Hash hash, std::string_view username, std::string_view password,
              ScramClientOptions options = {});
  ~ScramClient();
  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  /// The client-first message, e.g. "n,,n=user,r=<nonce>". Empty if called twice.
  std::string first();

  /// The client-final message for the server-first message; nullopt if that is malformed,
  /// does not extend our nonce, or asks for fewer than kMinScramIterations (or more than
  /// kMaxScramIterations) iterations. nullopt also when called out of order.
  std::optional<std::string> final(std::string_view server_first);

  /// True if the server-final message carries the expected ServerSignature (mutual
  /// authentication, RFC 5802 §3). False on "e=..." errors, anything malformed, or out of
  /// order.
  bool verify(std::string_view server_final);

 private:
  enum class State { initial, sent_first, sent_final, done };

  crypto::Hash hash_;
  std::string username_;
  std::string password_;
  ScramClientOptions options_;
  State state_ = State::initial;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string expected_server_signature_;
};

}  // namespace parley::server::sasl
