// File: tests/common/stored_records.h
//
// What the codec wrote into a store's log, record by record: for tests that
// check the stored form (compression, sealing), which reads never show.

#ifndef ANNALS_TESTS_COMMON_STORED_RECORDS_H_
#define ANNALS_TESTS_COMMON_STORED_RECORDS_H_

#include <cstddef>
#include <vector>

#include "annals/event_store.h"
#include "codec/internal/canonical.h"

namespace annals::testing {

// How one record of the log is stored.
struct StoredRecordInfo {
  codec_internal::PayloadEncoding encoding;
  size_t record_bytes = 0;   // the whole record
  size_t payload_bytes = 0;  // its payload as stored
};

// Every record of `store`'s log, in position order. Records a test failure
// for a record that does not parse.
std::vector<StoredRecordInfo> StoredRecords(EventStore& store);

// How many records of `store`'s log hold a compressed payload.
int CompressedRecords(EventStore& store);

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_STORED_RECORDS_H_
