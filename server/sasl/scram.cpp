#include "server/sasl/scram.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>

namespace parley::server::sasl {
namespace {

void cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

// SCRAM attribute values never contain ',' (RFC 5802 §7: value-safe-char excludes it and
// saslname escapes it), so a message is a ','-separated list of "x=value" attributes.
std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// The value of `token` if it is the attribute `name` ("r=abc" -> "abc").
std::optional<std::string_view> attribute(std::string_view token, char name) {
  if (token.size() < 2 || token[0] != name || token[1] != '=') return std::nullopt;
  return token.substr(2);
}

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5802 §7: printable = %x21-2B / %x2D-7E, c-nonce = printable (one or more).
bool valid_nonce(std::string_view nonce) {
  return !nonce.empty() && std::all_of(nonce.begin(), nonce.end(), [](char c) {
    return c >= 0x21 && c <= 0x7E && c != ',';
  });
}

// RFC 5802 §7: cb-name = 1*(ALPHA / DIGIT / "." / "-").
bool valid_cb_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-';
  });
}

// RFC 5802 §7: extensions = attr-val *("," attr-val), attr-val = ALPHA "=" value, to be
// ignored when unknown (§5.1); "m" is reserved and MUST fail authentication (§5.1). An
// attribute SCRAM defines (a second "p=", say) is not an unknown extension: refused too.
bool ignorable_extension(std::string_view token) {
  constexpr std::string_view kDefined = "acimnprsve";
  return token.size() >= 3 && is_alpha(token[0]) &&
         kDefined.find(token[0]) == std::string_view::npos && token[1] == '=' &&
         token.find('\0') == std::string_view::npos;
}

// RFC 5802 §5.1, §7: saslname = 1*(value-safe-char / "=2C" / "=3D"); any other '=' MUST
// fail. ABNF strings are case-insensitive (RFC 5234 §2.3), so "=2c" is accepted too.
std::optional<std::string> decode_saslname(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0' || c == ',') return std::nullopt;
    if (c != '=') {
      out += c;
      continue;
    }
    std::string_view escape = text.substr(i + 1, 2);
    if (escape == "2C" || escape == "2c") {
      out += ',';
    } else if (escape == "3D" || escape == "3d") {
      out += '=';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

std::string encode_saslname(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

crypto::Bytes xor_bytes(std::string_view a, std::string_view b) {
  crypto::Bytes out(a);
  for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] ^= b[i];
  return out;
}

std::string fresh_nonce() { return crypto::base64_encode(crypto::random_bytes(kScramNonceBytes)); }

// A client-final or server-first message is valid UTF-8 without NUL, at most
// kMaxScramMessage bytes, and splits into non-empty attributes.
std::optional<std::vector<std::string_view>> attributes(std::string_view message) {
  if (message.empty() || message.size() > kMaxScramMessage || !valid_utf8(message) ||
      message.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  auto tokens = split(message);
  for (auto t : tokens) {
    if (t.empty()) return std::nullopt;
  }
  return tokens;
}

}  // namespace

// ----------------------------------------------------------------------------- server

ScramServer::ScramServer(crypto::Hash hash, bool plus, ChannelBindingInfo channel_binding)
    : hash_(hash), plus_(plus), channel_binding_(std::move(channel_binding)) {}

ScramServer::~ScramServer() { wipe(); }

void ScramServer::wipe() {
  cleanse(keys_.stored_key);
  cleanse(keys_.server_key);
  keys_ = {};
  have_keys_ = false;
}

void ScramServer::set_server_nonce_for_testing(std::string nonce) {
  injected_server_nonce_ = std::move(nonce);
}

ScramServer::ClientFirst ScramServer::first(std::string_view message) {
  auto failed = [](SaslFailure f) { return ClientFirst{f, {}, {}, {}}; };
  if (state_ != State::initial) {
    state_ = State::done;
    return failed(SaslFailure::not_authorized);
  }
  state_ = State::done;  // until the message has passed every check

  // RFC 5802 §7: client-first-message = gs2-header client-first-message-bare,
  // gs2-header = gs2-cbind-flag "," [authzid] ",". No GS2 "F," prefix in SCRAM.
  if (message.size() > kMaxScramMessage || !valid_utf8(message) ||
      message.find('\0') != std::string_view::npos) {
    return failed(SaslFailure::malformed_request);
  }
  std::size_t c1 = message.find(',');
  std::size_t c2 = c1 == std::string_view::npos ? c1 : message.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return failed(SaslFailure::malformed_request);
  std::string_view flag = message.substr(0, c1);
  std::string_view authzid_field = message.substr(c1 + 1, c2 - c1 - 1);
  std::string_view bare = message.substr(c2 + 1);

  bool flag_ok = flag == "n" || flag == "y" ||
                 (flag.starts_with("p=") && valid_cb_name(flag.substr(2)));
  if (!flag_ok) return failed(SaslFailure::malformed_request);

  ClientFirst result;
  if (!authzid_field.empty()) {
    auto value = attribute(authzid_field, 'a');
    if (!value) return failed(SaslFailure::malformed_request);
    // RFC 6120 §6.5.6: an incorrectly formatted authzid is invalid-authzid.
    result.authzid = decode_saslname(*value);
    if (!result.authzid) return failed(SaslFailure::invalid_authzid);
  }

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  auto tokens = attributes(bare);
  if (!tokens || tokens->size() < 2) return failed(SaslFailure::malformed_request);
  auto username = attribute((*tokens)[0], 'n');
  auto nonce = attribute((*tokens)[1], 'r');
  if (!username || !nonce || !valid_nonce(*nonce)) return failed(SaslFailure::malformed_request);
  for (std::size_t i = 2; i < tokens->size(); ++i) {
    if (!ignorable_extension((*tokens)[i])) return failed(SaslFailure::malformed_request);
  }
  auto decoded = decode_saslname(*username);
  if (!decoded) return failed(SaslFailure::malformed_request);

  if (auto f = check_channel_binding(flag)) return failed(*f);

  result.username = std::move(*decoded);
  if (flag.starts_with("p=")) result.channel_binding_type = flag.substr(2);
  gs2_header_ = message.substr(0, c2 + 1);
  client_first_bare_ = bare;
  client_nonce_ = *nonce;
  state_ = State::got_client_first;
  return result;
}

// RFC 5802 §6 and §7 (gs2-cbind-flag). Sets channel_binding_data_ for "p=".
std::optional<SaslFailure> ScramServer::check_channel_binding(std::string_view flag) {
  if (!plus_) {
    // "p" asks for channel binding, which only a -PLUS mechanism carries.
    if (flag.starts_with("p=")) return SaslFailure::malformed_request;
    // "y": the client could bind but believes we cannot. If we advertised -PLUS, someone
    // removed it from the list on the way: a downgrade attack (RFC 5802 §6).
    if (flag == "y" && channel_binding_.server_supports_plus) return SaslFailure::not_authorized;
    return std::nullopt;
  }
  // A -PLUS mechanism with "n" contradicts itself; with "y", the client says it saw no
  // -PLUS mechanism while selecting one: refused like any downgrade.
  if (flag == "n") return SaslFailure::malformed_request;
  if (flag == "y") return SaslFailure::not_authorized;
  // "p=type": the server MUST fail if it does not support that type (RFC 5802 §6).
  std::string_view type = flag.substr(2);
  const auto& types = channel_binding_.types;
  if (std::find(types.begin(), types.end(), type) == types.end() || !channel_binding_.data) {
    return SaslFailure::not_authorized;
  }
  auto data = channel_binding_.data(type);
  if (!data) return SaslFailure::not_authorized;
  channel_binding_data_ = std::move(*data);
  return std::nullopt;
}

std::string ScramServer::server_first(const ScramLookup& credentials) {
  if (state_ != State::got_client_first || credentials.salt.empty() ||
      credentials.iterations < 1) {
    state_ = State::done;
    return {};
  }
  std::string server_nonce =
      injected_server_nonce_.empty() ? fresh_nonce() : injected_server_nonce_;
  nonce_ = client_nonce_ + server_nonce;
  server_first_ = "r=" + nonce_ + ",s=" + crypto::base64_encode(credentials.salt) +
                  ",i=" + std::to_string(credentials.iterations);

  // An unknown account, or keys we could not open or of the wrong size: random keys, so
  // final() does exactly the same work and fails the same way (no user enumeration).
  std::size_t n = crypto::digest_size(hash_);
  const auto& keys = credentials.keys;
  have_keys_ = keys && keys->stored_key.size() == n && keys->server_key.size() == n;
  keys_ = have_keys_ ? *keys : ScramKeys{crypto::random_bytes(n), crypto::random_bytes(n)};
  state_ = State::sent_server_first;
  return server_first_;
}

ScramServer::Final ScramServer::final(std::string_view message) {
  auto failed = [this](SaslFailure f) {
    wipe();
    return Final{f, {}};
  };
  if (state_ != State::sent_server_first) {
    state_ = State::done;
    return failed(SaslFailure::not_authorized);
  }
  state_ = State::done;  // one attempt only: a replayed final message meets this state

  // RFC 5802 §7: client-final-message-without-proof = channel-binding "," nonce
  // ["," extensions]; client-final-message = ... "," proof.
  auto tokens = attributes(message);
  if (!tokens || tokens->size() < 3) return failed(SaslFailure::malformed_request);
  auto cb = attribute(tokens->front(), 'c');
  auto nonce = attribute((*tokens)[1], 'r');
  auto proof_b64 = attribute(tokens->back(), 'p');
  if (!cb || !nonce || !proof_b64) return failed(SaslFailure::malformed_request);
  for (std::size_t i = 2; i + 1 < tokens->size(); ++i) {
    if (!ignorable_extension((*tokens)[i])) return failed(SaslFailure::malformed_request);
  }
  auto cb_bytes = crypto::base64_decode(*cb);
  auto proof = crypto::base64_decode(*proof_b64);
  if (!cb_bytes || !proof || proof->size() != crypto::digest_size(hash_)) {
    return failed(SaslFailure::malformed_request);
  }

  // Every check is computed, whatever fails first, so that the time taken says nothing
  // about which one failed or whether the account exists.
  // RFC 5802 §6, §7: c = base64(gs2-header [cbind-data]).
  bool cb_ok = crypto::equal_constant_time(*cb_bytes, gs2_header_ + channel_binding_data_);
  bool nonce_ok = crypto::equal_constant_time(*nonce, nonce_);
  // RFC 5802 §3: AuthMessage, ClientSignature, ClientKey = ClientProof XOR ClientSignature,
  // and the proof holds when H(ClientKey) = StoredKey.
  std::string_view without_proof = message.substr(0, message.size() - tokens->back().size() - 1);
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," +
                             std::string(without_proof);
  crypto::Bytes client_signature = crypto::hmac(hash_, keys_.stored_key, auth_message);
  crypto::Bytes client_key = xor_bytes(*proof, client_signature);
  bool proof_ok =
      crypto::equal_constant_time(crypto::digest(hash_, client_key), keys_.stored_key);
  crypto::Bytes server_signature = crypto::hmac(hash_, keys_.server_key, auth_message);
  cleanse(client_key);
  cleanse(client_signature);

  bool ok = cb_ok & nonce_ok & proof_ok & have_keys_;
  if (!ok) return failed(SaslFailure::not_authorized);
  wipe();
  return Final{std::nullopt, "v=" + crypto::base64_encode(server_signature)};
}

// ----------------------------------------------------------------------------- client

ScramClient::ScramClient(crypto::Hash hash, std::string_view username,
                         std::string_view password, ScramClientOptions options)
    : hash_(hash), username_(username), password_(password), options_(std::move(options)) {
  if (options_.nonce.empty()) options_.nonce = fresh_nonce();
}

ScramClient::~ScramClient() {
  cleanse(password_);
  cleanse(expected_server_signature_);
}

std::string ScramClient::first() {
  if (state_ != State::initial) {
    state_ = State::done;
    return {};
  }
  // RFC 5802 §7 gs2-header; §6 for the choice between "n", "y" and "p=".
  if (options_.channel_binding) {
    gs2_header_ = "p=" + options_.channel_binding->type + ",";
  } else {
    gs2_header_ = options_.supports_channel_binding ? "y," : "n,";
  }
  if (!options_.authzid.empty()) gs2_header_ += "a=" + encode_saslname(options_.authzid);
  gs2_header_ += ",";
  client_first_bare_ = "n=" + encode_saslname(username_) + ",r=" + options_.nonce;
  state_ = State::sent_first;
  return gs2_header_ + client_first_bare_;
}

std::optional<std::string> ScramClient::final(std::string_view server_first) {
  if (state_ != State::sent_first) {
    state_ = State::done;
    return std::nullopt;
  }
  state_ = State::done;
  // RFC 5802 §7: server-first-message = [reserved-mext ","] nonce "," salt ","
  // iteration-count ["," extensions]. A leading "m=" lands in the first check below.
  auto tokens = attributes(server_first);
  if (!tokens || tokens->size() < 3) return std::nullopt;
  auto nonce = attribute((*tokens)[0], 'r');
  auto salt_b64 = attribute((*tokens)[1], 's');
  auto count = attribute((*tokens)[2], 'i');
  if (!nonce || !salt_b64 || !count) return std::nullopt;
  for (std::size_t i = 3; i < tokens->size(); ++i) {
    if (!ignorable_extension((*tokens)[i])) return std::nullopt;
  }
  // The combined nonce starts with ours and adds something (RFC 5802 §5.1 "r").
  if (!valid_nonce(*nonce) || nonce->size() <= options_.nonce.size() ||
      !nonce->starts_with(options_.nonce)) {
    return std::nullopt;
  }
  auto salt = crypto::base64_decode(*salt_b64);
  int iterations = 0;
  auto [end, ec] = std::from_chars(count->data(), count->data() + count->size(), iterations);
  if (!salt || salt->empty() || ec != std::errc{} || end != count->data() + count->size() ||
      iterations < kMinScramIterations || iterations > kMaxScramIterations) {
    return std::nullopt;
  }

  // RFC 5802 §3.
  std::string cb_input = gs2_header_;
  if (options_.channel_binding) cb_input += options_.channel_binding->data;
  std::string without_proof =
      "c=" + crypto::base64_encode(cb_input) + ",r=" + std::string(*nonce);
  std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  crypto::Bytes salted = options_.salted_password_cache != nullptr
                             ? options_.salted_password_cache->salted_password(hash_, username_, password_, *salt,
                                                                               iterations)
                             : crypto::pbkdf2(hash_, password_, *salt, iterations);
  crypto::Bytes client_key = crypto::hmac(hash_, salted, "Client Key");
  crypto::Bytes stored_key = crypto::digest(hash_, client_key);
  crypto::Bytes client_signature = crypto::hmac(hash_, stored_key, auth_message);
  crypto::Bytes proof = xor_bytes(client_key, client_signature);
  crypto::Bytes server_key = crypto::hmac(hash_, salted, "Server Key");
  expected_server_signature_ = crypto::hmac(hash_, server_key, auth_message);
  for (auto* secret : {&salted, &client_key, &stored_key, &client_signature, &server_key}) {
    cleanse(*secret);
  }
  state_ = State::sent_final;
  return without_proof + ",p=" + crypto::base64_encode(proof);
}

bool ScramClient::verify(std::string_view server_final) {
  if (state_ != State::sent_final) {
    state_ = State::done;
    return false;
  }
  state_ = State::done;
  // RFC 5802 §7: server-final-message = (server-error / verifier) ["," extensions].
  auto tokens = attributes(server_final);
  if (!tokens) return false;
  auto verifier = attribute(tokens->front(), 'v');
  if (!verifier) return false;
  for (std::size_t i = 1; i < tokens->size(); ++i) {
    if (!ignorable_extension((*tokens)[i])) return false;
  }
  auto signature = crypto::base64_decode(*verifier);
  return signature && crypto::equal_constant_time(*signature, expected_server_signature_);
}

SaltedPasswordCache::~SaltedPasswordCache() {
  for (auto& [key, salted] : entries_) cleanse(salted);
}

crypto::Bytes SaltedPasswordCache::salted_password(crypto::Hash hash, std::string_view username,
                                                   std::string_view password, std::string_view salt,
                                                   int iterations) {
  // Length-prefixed fields, so that no two inputs share a key.
  const crypto::Bytes password_digest = crypto::digest(crypto::Hash::sha256, password);
  std::string key;
  for (std::string_view field :
       {std::string_view(hash == crypto::Hash::sha1 ? "1" : "256"), username, std::string_view(password_digest), salt}) {
    key += std::to_string(field.size()) + ":" + std::string(field);
  }
  key += std::to_string(iterations);
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      ++hits_;
      return it->second;
    }
    ++misses_;
  }
  crypto::Bytes salted = crypto::pbkdf2(hash, password, salt, iterations);
  std::lock_guard lock(mutex_);
  entries_.emplace(std::move(key), salted);
  return salted;
}

std::size_t SaltedPasswordCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

std::size_t SaltedPasswordCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace parley::server::sasl
