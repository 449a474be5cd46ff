#pragma once
// The accounts of the local domains and their SCRAM credentials (tables `accounts` and
// `scram_credentials`, migrations/0001_accounts.sql).
//
// Thread-safe. Every call blocks while it talks to the database: on the server, call it
// from the storage pool, never from a network thread.

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/credentials.hpp"
#include "server/jid.hpp"
#include "storage/database.hpp"
#include "storage/result.hpp"

namespace parley::server {

/// A sign-in: a success (with the resource bound) or a failed credential check.
struct Signin {
  Jid account;           // bare
  std::string address;   // the client's IP address
  std::string resource;  // empty for a failure
  bool success = false;
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

/// A password prepared with the PRECIS OpaqueString profile (RFC 8265 §4.2), as SCRAM's
/// Normalize() asks; only constructible through from().
class PreparedPassword {
 public:
  /// nullopt for an empty password, invalid UTF-8, control characters, or over 1023 bytes.
  static std::optional<PreparedPassword> from(std::string_view password);
  PreparedPassword(const PreparedPassword&) = delete;
  PreparedPassword(PreparedPassword&&) = default;
  ~PreparedPassword();
  std::string_view str() const { return text_; }

 private:
  explicit PreparedPassword(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

class AccountStore {
 public:
  AccountStore(storage::Database& db, const CredentialVault& vault, int scram_iterations);

  /// What happened to an account (the user/created and user/deleted events).
  enum class Change { created, deleted };
  /// Told of every account this store creates or deletes, after the commit and before the
  /// call returns, on the calling thread.
  using Observer = std::function<void(const Jid& account, Change change)>;
  /// Set (or clear, with nullptr) before the store is shared between threads; not synchronised.
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  /// The PostgreSQL channel on which every creation and deletion is also announced, in the
  /// same transaction, so that a server learns of changes other processes made (e.g.
  /// `parley user del`). Payload: "created|deleted <bare JID> <origin>".
  static constexpr const char* kNotifyChannel = "parley_accounts";
  /// Names this store in the notifications it sends (random, per process), so a server can
  /// ignore its own.
  const std::string& origin() const { return origin_; }

  /// Creates the account with SCRAM-SHA-1 and SCRAM-SHA-256 credentials. conflict if it exists.
  storage::Result<void> create(const Jid& account, const PreparedPassword& password);
  /// Replaces both credentials. not_found if there is no such account.
  storage::Result<void> set_password(const Jid& account, const PreparedPassword& password);
  /// Deletes the account and, through ON DELETE CASCADE, everything it owns. not_found if absent.
  storage::Result<void> remove(const Jid& account);
  storage::Result<bool> exists(const Jid& account);
  /// The bare JIDs of a domain's accounts, sorted.
  storage::Result<std::vector<std::string>> list(std::string_view domain);
  /// Salt, iteration count and keys for `account`; for an unknown account, the fake salt
  /// and the configured iteration count (no user enumeration).
  storage::Result<ScramLookup> scram_lookup(const Jid& account, crypto::Hash hash);
  /// What scram_lookup gives for an account that cannot exist (e.g. an invalid user name),
  /// without asking the database.
  ScramLookup unknown_account(std::string_view name, crypto::Hash hash) const;

  /// Records sign-ins, in as few statements as their number allows (SigninLog's batches).
  /// A row for an account that does not exist (any more) is left out: it would have no owner.
  storage::Result<void> record_signins(const std::vector<Signin>& rows);
  /// Deletes sign-ins older than `retention`; returns how many.
  storage::Result<std::size_t> purge_signins(std::chrono::hours retention);

 private:
  void write_credentials(pqxx::work& tx, const Jid& account, const PreparedPassword& password);

  storage::Database& db_;
  const CredentialVault& vault_;
  int iterations_;
  std::array<std::string, 2> dummy_sealed_;  // SHA-1, SHA-256: opened in vain for unknown accounts
  std::string origin_;
  Observer observer_;
};

}  // namespace parley::server
