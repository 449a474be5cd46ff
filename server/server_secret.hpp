#pragma once
// The server secret: 32 random bytes in a file outside the database ([security] key_file).
// Every key parley keeps at rest (credential encryption, fake salts, later dialback) is
// derived from it with HKDF under its own purpose label, so no two uses share a key.
// Losing the file makes the stored credentials unusable; a database dump without it
// reveals nothing that allows a password guess.
//
// Immutable after loading; safe to share between threads.

#include <filesystem>
#include <string>
#include <string_view>

namespace parley::server {

class ServerSecret {
 public:
  /// Reads the key file, or creates it (mode 0600, atomically: two processes starting at
  /// once end up with the same key) when it does not exist. Refuses a file of the wrong
  /// size or one that group or others may read. Throws std::runtime_error naming the file.
  static ServerSecret load_or_create(const std::filesystem::path& file);

  /// A secret built from given bytes (tests).
  static ServerSecret from_bytes(std::string key);

  ServerSecret(const ServerSecret&) = delete;
  ServerSecret& operator=(const ServerSecret&) = delete;
  ServerSecret(ServerSecret&&) = default;
  ~ServerSecret();

  /// A 32-byte key for one purpose, e.g. "parley scram-keys v1".
  std::string derive(std::string_view purpose) const;

  static constexpr std::size_t kSize = 32;

 private:
  explicit ServerSecret(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace parley::server
