#include "server/sasl/plain.hpp"

#include <openssl/crypto.h>

#include "server/precis.hpp"

namespace parley::server::sasl {
namespace {

// Count used for the dummy derivation when the caller's lookup has none (a caller bug).
constexpr int kDummyIterations = 4096;

void cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

// RFC 4616 §2: each field is 1*SAFE, SAFE being any UTF-8 character but NUL.
bool valid_field(std::string_view field) {
  return field.size() <= kMaxPlainField && valid_utf8(field);
}

}  // namespace

bool verify_password(crypto::Hash hash, std::string_view prepared_password,
                     const ScramLookup& credentials) {
  std::size_t n = crypto::digest_size(hash);
  const auto& keys = credentials.keys;
  bool usable = keys && keys->stored_key.size() == n && !credentials.salt.empty() &&
                credentials.iterations >= 1;
  // Without usable keys, derive anyway (with the fake salt and count the caller passed)
  // and compare with a random key: the same work and the same answer as a wrong password.
  int iterations = credentials.iterations >= 1 ? credentials.iterations : kDummyIterations;
  crypto::Bytes stored_key = usable ? keys->stored_key : crypto::random_bytes(n);
  // RFC 5802 §3: SaltedPassword = Hi(password, salt, i), StoredKey = H(HMAC(SaltedPassword,
  // "Client Key")).
  crypto::Bytes salted = crypto::pbkdf2(hash, prepared_password, credentials.salt, iterations);
  crypto::Bytes client_key = crypto::hmac(hash, salted, "Client Key");
  bool match = crypto::equal_constant_time(crypto::digest(hash, client_key), stored_key);
  cleanse(salted);
  cleanse(client_key);
  cleanse(stored_key);
  return match & usable;
}

PlainServer::~PlainServer() { cleanse(password_); }

PlainServer::Request PlainServer::parse(std::string_view message) {
  auto failed = [] { return Request{SaslFailure::malformed_request, {}, {}}; };
  if (state_ != State::initial) {
    state_ = State::done;
    return Request{SaslFailure::not_authorized, {}, {}};
  }
  state_ = State::done;
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  std::size_t nul1 = message.find('\0');
  std::size_t nul2 = nul1 == std::string_view::npos ? nul1 : message.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos) return failed();
  std::string_view authzid = message.substr(0, nul1);
  std::string_view authcid = message.substr(nul1 + 1, nul2 - nul1 - 1);
  std::string_view password = message.substr(nul2 + 1);
  if (authcid.empty() || password.empty() || password.find('\0') != std::string_view::npos ||
      !valid_field(authzid) || !valid_field(authcid) || !valid_field(password)) {
    return failed();
  }
  Request request;
  request.authcid = authcid;
  if (!authzid.empty()) request.authzid = std::string(authzid);
  password_.reserve(password.size());
  password_.assign(password);
  state_ = State::parsed;
  return request;
}

PlainServer::Result PlainServer::verify(const ScramLookup& credentials, crypto::Hash hash) {
  if (state_ != State::parsed) {
    state_ = State::done;
    return Result{SaslFailure::not_authorized};
  }
  state_ = State::done;
  // The stored credential was made from the OpaqueString-prepared password (RFC 8265 §4.2,
  // credentials.hpp). A password the profile refuses cannot be right; the raw bytes are
  // used for the dummy derivation so that the time taken does not tell.
  std::optional<std::string> prepared = precis::opaque_string(password_);
  bool ok = verify_password(hash, prepared ? *prepared : password_, credentials) &&
            prepared.has_value();
  if (prepared) cleanse(*prepared);
  cleanse(password_);
  password_.clear();
  if (!ok) return Result{SaslFailure::not_authorized};
  return Result{std::nullopt};
}

}  // namespace parley::server::sasl
