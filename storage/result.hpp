#pragma once
// The small error type that storage returns instead of throwing (STYLE.md, "Errors").
// libpqxx exceptions are translated at the storage boundary; nothing above it sees pqxx.

#include <string>
#include <utility>
#include <variant>

namespace parley::storage {

struct Error {
  enum class Kind {
    not_found,    ///< the row the caller named does not exist
    conflict,     ///< a unique key is taken (e.g. the account already exists)
    unavailable,  ///< the database cannot be reached now; retrying later may work
    internal,     ///< anything else (bad data, a bug); logged where it is translated
  };
  Kind kind;
  std::string message;  ///< for logs and operators; never contains secrets
};

/// Either a value or an Error. `Result<void>` is success or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  /// A failed result ("no result yet"); exists because co_spawn needs a default.
  Result() : v_(Error{Error::Kind::internal, "no result"}) {}
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_{Error::Kind::internal, {}};
  bool failed_ = false;
};

inline Error not_found(std::string m) { return {Error::Kind::not_found, std::move(m)}; }
inline Error conflict(std::string m) { return {Error::Kind::conflict, std::move(m)}; }
inline Error unavailable(std::string m) { return {Error::Kind::unavailable, std::move(m)}; }
inline Error internal_error(std::string m) { return {Error::Kind::internal, std::move(m)}; }

}  // namespace parley::storage
