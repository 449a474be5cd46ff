// libFuzzer target: the SASL servers, SCRAM (server/sasl/scram.hpp, RFC 5802, RFC 7677,
// channel binding per RFC 9266) and PLAIN (server/sasl/plain.hpp, RFC 4616), fed what a
// client sends in <auth/> and <response/>.
//
// Input: byte 0 chooses the exchange, the rest is the client's messages.
//   bit 0  SCRAM-SHA-1 (1) or SCRAM-SHA-256 (0)
//   bit 1  the -PLUS variant (channel binding required)
//   bit 2  the server advertised -PLUS (matters for the "y" flag)
//   bit 3  unknown account (no keys, a fake salt) instead of user "user", password "pencil"
//   bit 4  PLAIN instead of SCRAM: the rest is the whole PLAIN message
// For SCRAM the rest is "client-first\nclient-final". The server nonce and salt are those
// of the RFC 5802 §5 / RFC 7677 §3 examples, so the RFC messages succeed and the fuzzer
// starts from an exchange that gets all the way through.
//
// What it asserts:
// - nothing crashes or throws (both are meant for untrusted input);
// - SCRAM succeeds only for the known account, and only when the final message carries the
//   nonce we issued, the channel binding of this connection and the proof of RFC 5802 §3,
//   recomputed here from the password; the server-final message is the right signature;
//   a replayed final message fails; every step out of order fails;
// - PLAIN succeeds exactly when the account is known and the password is "pencil" once
//   prepared (OpaqueString); a parsed request has a non-empty authcid and no NUL inside.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/credentials.hpp"
#include "server/crypto.hpp"
#include "server/precis.hpp"
#include "server/sasl/mechanisms.hpp"
#include "server/sasl/plain.hpp"
#include "server/sasl/scram.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace crypto = parley::server::crypto;
namespace sasl = parley::server::sasl;
using crypto::Hash;
using parley::server::ScramKeys;
using parley::server::ScramLookup;

constexpr std::string_view kExporterData = "0123456789abcdef0123456789abcdef";  // 32 bytes

struct Account {
  Hash hash;
  std::string server_nonce;
  ScramLookup known;    // "user" / "pencil", 4096 iterations, the RFC salt
  ScramLookup unknown;  // the same salt and count, no keys
  std::string client_key;
  ScramLookup plain;    // "pencil" with one iteration, so that PLAIN runs are fast
};

Account make_account(Hash hash, const char* server_nonce, const char* salt_b64) {
  Account a{hash, server_nonce, {}, {}, {}, {}};
  const std::string salt = *crypto::base64_decode(salt_b64);
  auto c = parley::server::derive_scram_credential(hash, "pencil", 4096, salt);
  a.known = ScramLookup{c.salt, c.iterations, c.keys};
  a.unknown = ScramLookup{c.salt, c.iterations, std::nullopt};
  a.client_key = crypto::hmac(hash, crypto::pbkdf2(hash, "pencil", salt, 4096), "Client Key");
  auto p = parley::server::derive_scram_credential(hash, "pencil", 1, salt);
  a.plain = ScramLookup{p.salt, p.iterations, p.keys};
  return a;
}

const Account& account(Hash hash) {
  // RFC 5802 §5 and RFC 7677 §3.
  static const Account sha1 = make_account(Hash::sha1, "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92");
  static const Account sha256 =
      make_account(Hash::sha256, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==");
  return hash == Hash::sha1 ? sha1 : sha256;
}

std::string xor_bytes(std::string a, std::string_view b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) a[i] ^= b[i];
  return a;
}

// The client-first-message-bare and the client nonce of a message first() accepted.
struct ClientFirstParts {
  std::string gs2_header;
  std::string bare;
  std::string nonce;
};

ClientFirstParts split_client_first(std::string_view message) {
  const std::size_t c1 = message.find(',');
  const std::size_t c2 = message.find(',', c1 + 1);
  ClientFirstParts parts{std::string(message.substr(0, c2 + 1)), std::string(message.substr(c2 + 1)), {}};
  const std::size_t r = parts.bare.find(",r=");
  const std::size_t end = parts.bare.find(',', r + 3);
  parts.nonce = parts.bare.substr(r + 3, end == std::string::npos ? end : end - r - 3);
  return parts;
}

void fuzz_scram(std::uint8_t flags, std::string_view rest) {
  const Hash hash = (flags & 1) != 0 ? Hash::sha1 : Hash::sha256;
  const bool plus = (flags & 2) != 0;
  const bool known = (flags & 8) == 0;
  const Account& acct = account(hash);

  sasl::ChannelBindingInfo cb;
  cb.server_supports_plus = (flags & 4) != 0;
  cb.types = {std::string(sasl::kTlsExporter), std::string(sasl::kTlsServerEndPoint)};
  cb.data = [](std::string_view type) -> std::optional<std::string> {
    if (type == sasl::kTlsExporter) return std::string(kExporterData);
    return std::nullopt;  // offered but unavailable on this connection
  };

  const std::size_t newline = rest.find('\n');
  const std::string_view client_first = rest.substr(0, newline);
  const std::string_view client_final =
      newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);

  sasl::ScramServer server(hash, plus, cb);
  server.set_server_nonce_for_testing(acct.server_nonce);
  const auto first = server.first(client_first);
  const ScramLookup& lookup = known ? acct.known : acct.unknown;
  if (!first.ok()) {
    FUZZ_CHECK(server.server_first(lookup).empty(), "server_first() after a failed first()");
    FUZZ_CHECK(!server.final(client_final).ok(), "final() after a failed first()");
    return;
  }
  FUZZ_CHECK(!first.username.empty() && sasl::valid_utf8(first.username), "bad username accepted");
  FUZZ_CHECK(!first.authzid || (!first.authzid->empty() && sasl::valid_utf8(*first.authzid)),
             "bad authzid accepted");
  FUZZ_CHECK(plus ? first.channel_binding_type == sasl::kTlsExporter : first.channel_binding_type.empty(),
             "channel binding type '%s' accepted (plus=%d)", first.channel_binding_type.c_str(), int(plus));

  const ClientFirstParts parts = split_client_first(client_first);
  const std::string server_first = server.server_first(lookup);
  FUZZ_CHECK(server_first.starts_with("r=" + parts.nonce + acct.server_nonce + ",s="),
             "server-first '%s' does not extend the client nonce '%s'", server_first.c_str(), parts.nonce.c_str());
  FUZZ_CHECK(server.server_first(lookup).empty(), "a second server_first() was accepted");

  const auto fin = server.final(client_final);
  FUZZ_CHECK(!server.final(client_final).ok(), "a replayed client-final message was accepted");
  if (!fin.ok()) return;

  // Success: recompute everything RFC 5802 §3 and §7 require, independently.
  FUZZ_CHECK(known, "an unknown account authenticated");
  const std::size_t p = client_final.rfind(",p=");
  FUZZ_CHECK(p != std::string_view::npos, "accepted without a proof");
  const std::string_view without_proof = client_final.substr(0, p);
  const std::size_t c_end = without_proof.find(',');
  const std::string_view c_attr = without_proof.substr(0, c_end);
  const std::string_view rest_attrs = without_proof.substr(c_end + 1);
  const std::string expected_cb = parts.gs2_header + (plus ? std::string(kExporterData) : std::string());
  auto cb_data = c_attr.starts_with("c=") ? crypto::base64_decode(c_attr.substr(2)) : std::nullopt;
  FUZZ_CHECK(cb_data && *cb_data == expected_cb, "accepted channel binding '%s'",
             std::string(c_attr).c_str());
  const std::string expected_nonce = "r=" + parts.nonce + acct.server_nonce;
  FUZZ_CHECK(rest_attrs.substr(0, rest_attrs.find(',')) == expected_nonce, "accepted nonce in '%s'",
             std::string(rest_attrs).c_str());
  const std::string auth_message = parts.bare + "," + server_first + "," + std::string(without_proof);
  const std::string stored_key = lookup.keys->stored_key;
  const std::string proof = xor_bytes(acct.client_key, crypto::hmac(hash, stored_key, auth_message));
  FUZZ_CHECK(client_final.substr(p + 3) == crypto::base64_encode(proof), "accepted a wrong proof");
  const std::string signature = crypto::hmac(hash, lookup.keys->server_key, auth_message);
  FUZZ_CHECK(fin.server_final == "v=" + crypto::base64_encode(signature), "wrong server signature");
}

void fuzz_plain(std::uint8_t flags, std::string_view message) {
  const Hash hash = (flags & 1) != 0 ? Hash::sha1 : Hash::sha256;
  const bool known = (flags & 8) == 0;
  sasl::PlainServer server;
  const auto request = server.parse(message);
  if (!request.ok()) {
    FUZZ_CHECK(!server.verify(account(hash).plain, hash).ok(), "verify() after a failed parse()");
    return;
  }
  FUZZ_CHECK(!request.authcid.empty() && request.authcid.find('\0') == std::string::npos &&
                 sasl::valid_utf8(request.authcid),
             "bad authcid accepted");
  FUZZ_CHECK(!request.authzid || (!request.authzid->empty() && request.authzid->find('\0') == std::string::npos),
             "bad authzid accepted");
  // The caller's lookup for an unknown account has no keys, and a salt and count all the same.
  ScramLookup lookup = account(hash).plain;
  if (!known) lookup.keys.reset();
  const std::size_t nul1 = message.find('\0');
  const std::string_view password = message.substr(message.find('\0', nul1 + 1) + 1);
  const auto prepared = parley::server::precis::opaque_string(password);
  const bool right = known && prepared && *prepared == "pencil";
  FUZZ_CHECK(server.verify(lookup, hash).ok() == right, "PLAIN verify() says %s for a %s password",
             right ? "no" : "yes", right ? "right" : "wrong");
  FUZZ_CHECK(!server.verify(lookup, hash).ok(), "a second verify() was accepted");
  FUZZ_CHECK(!server.parse(message).ok(), "a second parse() was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 16) != 0) {
    fuzz_plain(data[0], rest);
  } else {
    fuzz_scram(data[0], rest);
  }
  return 0;
}
