#pragma once
// Development certificates (`parley cert dev`, and `--dev`): a private CA plus one ECDSA
// P-256 certificate per hosted domain, enough for c2s and s2s TLS between local servers
// and test clients that trust the CA. Never for production: the CA key sits next to the
// certificates it signs.
//
// Layout of out_dir:
//   ca.pem, ca.key              the development CA (10 years), reused once it exists
//   <domain>.pem, <domain>.key  host certificate + CA certificate (a chain), and its key
// Keys are unencrypted PEM PKCS#8 files with mode 0600.
//
// Functions only; no shared state. Two processes writing the same directory at once each
// leave complete files (writes go through a rename), but may end up with different CAs.

#include <filesystem>
#include <string>
#include <vector>

namespace parley::server {

/// Writes the development CA (unless a usable one is already in out_dir) and a fresh
/// certificate and key for every domain, valid for `domain` and `*.domain`, for TLS
/// server and client use. Creates out_dir (mode 0755) when missing. A domain must be an
/// ASCII host name (A-labels for IDNs). Throws std::runtime_error naming the file and the
/// OpenSSL error on any failure.
void write_dev_certificates(const std::filesystem::path& out_dir,
                            const std::vector<std::string>& domains);

/// True when out_dir holds the CA and the certificate and key of every domain, and none
/// of those certificates expires within the next 7 days: then `--dev` need not call
/// write_dev_certificates again. Never throws.
bool dev_certificates_present(const std::filesystem::path& out_dir,
                              const std::vector<std::string>& domains);

}  // namespace parley::server
