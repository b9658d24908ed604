#include "tests/common/temp_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace annals::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/annals-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void DropColumnFamilies(const std::string& path, const std::vector<std::string>& names) {
  std::vector<std::string> existing;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &existing).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : existing)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status opened =
      rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles, &db);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    if (std::find(names.begin(), names.end(), handle->GetName()) != names.end()) {
      EXPECT_TRUE(db->DropColumnFamily(handle).ok()) << handle->GetName();
    }
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

std::unique_ptr<EventStore> OpenBufferedStore(const std::string& path) {
  Options options;
  options.durability = Durability::kBuffered;
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path, options);
  if (!store.ok()) {
    ADD_FAILURE() << "cannot open store at " << path << ": " << store.status();
    return nullptr;
  }
  return std::move(*store);
}

uint64_t TestSeed() {
  uint64_t seed;
  if (const char* env = std::getenv("ANNALS_TEST_SEED"); env != nullptr) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device()();
  }
  std::fprintf(stderr, "random seed: %llu (replay with ANNALS_TEST_SEED=%llu)\n",
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace annals::testing
