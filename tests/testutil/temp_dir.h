// File: tests/testutil/temp_dir.h
//
// Test helpers shared by every test folder.

#ifndef ANNALS_TESTS_TESTUTIL_TEMP_DIR_H_
#define ANNALS_TESTS_TESTUTIL_TEMP_DIR_H_

#include <cstdint>
#include <string>

namespace annals::testing {

// A fresh directory under $TEST_TMPDIR (or /tmp), removed with everything in
// it when the TempDir is destroyed. Not thread-safe; one per test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The seed for a randomized test: $ANNALS_TEST_SEED when set, else a fresh
// one. It is printed so that a failing run can be replayed.
uint64_t TestSeed();

}  // namespace annals::testing

#endif  // ANNALS_TESTS_TESTUTIL_TEMP_DIR_H_
