#include "tests/common/stored_records.h"

#include <memory>
#include <string_view>

#include "codec/internal/record_codec.h"
#include "eventstore/internal/store_access.h"
#include "gtest/gtest.h"

namespace annals::testing {

std::vector<StoredRecordInfo> StoredRecords(EventStore& store) {
  std::unique_ptr<rocksdb::Iterator> it(internal::StoreAccess::Db(store)->NewIterator(
      rocksdb::ReadOptions(), internal::StoreAccess::CoreFamily(store, internal::kLogFamily)));
  codec_internal::RecordDecoder decoder;
  std::vector<StoredRecordInfo> records;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view bytes(it->value().data(), it->value().size());
    EventView stored;
    StoredRecordInfo info;
    uint32_t checksum = 0;
    const absl::Status s = decoder.DecodeStored(bytes, &stored, &info.encoding, &checksum);
    EXPECT_TRUE(s.ok()) << "record " << records.size() + 1 << ": " << s;
    info.record_bytes = bytes.size();
    info.payload_bytes = stored.payload.size();
    records.push_back(info);
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return records;
}

int CompressedRecords(EventStore& store) {
  int compressed = 0;
  for (const StoredRecordInfo& r : StoredRecords(store)) {
    compressed += r.encoding.compression != codec_internal::StoredCompression::kIdentity;
  }
  return compressed;
}

}  // namespace annals::testing
