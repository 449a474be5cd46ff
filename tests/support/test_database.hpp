#pragma once
// A fresh, empty database for one test in the suite's private PostgreSQL cluster (started by
// the ctest fixture in tests/CMakeLists.txt, named by $PARLEY_TEST_DB). Dropped at the end.

#include <string>

namespace parley::test {

class TestDatabase {
 public:
  /// In the cluster named by `admin` (a conninfo), or by default the suite's ($PARLEY_TEST_DB).
  explicit TestDatabase(std::string admin = {});
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  /// libpq conninfo of this test's database.
  std::string conninfo() const;
  const std::string& name() const { return name_; }
  /// The socket directory of the cluster (for pg_dump and friends).
  std::string host() const;

 private:
  std::string admin_;
  std::string name_;
};

/// The suite's cluster conninfo ($PARLEY_TEST_DB); fails the test if unset.
std::string admin_conninfo();

}  // namespace parley::test
