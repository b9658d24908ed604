// File: tests/common/temp_dir.h
//
// Test helpers shared by every test folder.

#ifndef ANNALS_TESTS_COMMON_TEMP_DIR_H_
#define ANNALS_TESTS_COMMON_TEMP_DIR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "annals/event_store.h"

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

// Opens (creating) a store at `path` with Durability::kBuffered: tests of
// behaviour need no fsync, and crash_test covers kSync. Records a test
// failure and returns null when the store cannot be opened.
std::unique_ptr<EventStore> OpenBufferedStore(const std::string& path);

// Drops the column families `names` from the closed store at `path` with
// RocksDB directly, as if a process that does not link their module had
// made the store (annals itself never drops a family). Records a test
// failure when it cannot.
void DropColumnFamilies(const std::string& path, const std::vector<std::string>& names);

// The seed for a randomized test: $ANNALS_TEST_SEED when set, else a fresh
// one. It is printed so that a failing run can be replayed.
uint64_t TestSeed();

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_TEMP_DIR_H_
