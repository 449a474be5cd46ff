#include "tests/support/test_database.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

namespace parley::test {

std::string admin_conninfo() {
  const char* env = std::getenv("PARLEY_TEST_DB");
  if (env == nullptr || *env == '\0') {
    throw std::runtime_error("PARLEY_TEST_DB is not set: run the integration tests through ctest");
  }
  return env;
}

TestDatabase::TestDatabase(std::string admin) : admin_(admin.empty() ? admin_conninfo() : std::move(admin)) {
  static std::atomic<int> counter{0};
  name_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection c{admin_};
  pqxx::nontransaction tx{c};
  tx.exec("DROP DATABASE IF EXISTS " + name_);
  tx.exec("CREATE DATABASE " + name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c{admin_};
    pqxx::nontransaction tx{c};
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

std::string TestDatabase::conninfo() const { return admin_ + " dbname=" + name_; }

std::string TestDatabase::host() const {
  auto pos = admin_.find("host=");
  auto end = admin_.find(' ', pos);
  return admin_.substr(pos + 5, end == std::string::npos ? std::string::npos : end - pos - 5);
}

}  // namespace parley::test
