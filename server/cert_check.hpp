#pragma once
// Certificate checks for `parley check`: does a certificate/key pair from the config
// actually work for the hosted domains, before a client or a peer finds out that it does
// not? Each problem is one sentence an operator can act on, naming the file it is about.
//
// Functions only; no shared state; safe to call from any thread.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace parley::server {

/// What check_certificate found. `problems` empty means the pair is good to serve; the
/// other fields describe the leaf certificate when it could be read (else they are empty
/// and not_after is the epoch).
struct CertificateReport {
  std::vector<std::string> problems;
  std::string subject;             ///< RFC 2253 form, e.g. "CN=example.org"
  std::vector<std::string> names;  ///< DNS names in subjectAltName (the CN if there are none)
  std::chrono::system_clock::time_point not_after;
};

/// Checks the PEM chain (leaf first, then intermediates) and its private key: both
/// readable, key matches the leaf, leaf valid now, every domain covered (a wildcard only as
/// the whole leftmost label), key file not readable by others, and the chain verifies for
/// TLS server use against ca_file or, without it, the system trust store. Never throws.
CertificateReport check_certificate(const std::filesystem::path& chain_pem,
                                    const std::filesystem::path& key_pem,
                                    const std::vector<std::string>& domains,
                                    const std::optional<std::filesystem::path>& ca_file);

}  // namespace parley::server
