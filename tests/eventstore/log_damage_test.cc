// A damaged record header in a WAL or MANIFEST never hangs an open or a
// catch-up and never loses records silently (issue 11; the bit-flip sweep
// hung on it with ANNALS_TEST_SEED=4114679281, trial 171).
//
// One flipped bit turns a FULL record (type 1) into a "recyclable" one (5).
// RocksDB 7.8's follower reader (log::FragmentBufferedReader) then spins
// forever on that header, and the writer's reader takes it for the end of the
// file and drops what follows (eventstore/internal/log_header_check.h says
// where). Both must give kDataLoss naming the file.
//
// The store is fixed: data/log_damage_store, a format-3 store made with the
// CLI (`annals append` of 2 events to order-1, then of 3 events to order-2,
// each one JSON Lines append; the LOCK and the older OPTIONS file removed).
// The first append is in tables, the second only in the WAL 000032.log: one
// FULL record at byte 0, 952 bytes. MANIFEST-000033 ends with a FULL record
// at byte 1276. The flips are at fixed bytes; the test checks first that the
// bytes there are what it expects.
//
// Every open runs in a forked child with a deadline (the test process never
// opens a store, so the child starts without RocksDB threads): a hang is
// reported as a failure, not as a test that never ends.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "annals/event_store.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/files.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

#ifndef ANNALS_TEST_DATA_DIR
#error "ANNALS_TEST_DATA_DIR must name tests/eventstore/data"
#endif

namespace annals {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kWal[] = "000032.log";
constexpr uint64_t kWalNumber = 32;
constexpr uint64_t kWalRecord = 0;  // The WAL's only record.
constexpr char kManifest[] = "MANIFEST-000033";
constexpr uint64_t kManifestRecord = 1276;  // The MANIFEST's last record.
constexpr int kTypeByte = 6;                // In a header: CRC32C 4, length 2, type 1.
constexpr int kFullType = 1;
constexpr int kRecyclableFullType = 5;  // kFullType with bit 2 flipped.
// Far longer than an open of this store takes, even under sanitizers.
constexpr std::chrono::milliseconds kDeadline(30'000);

uint32_t Fixed32At(const std::string& bytes, uint64_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// Copies the fixed store to `path` and flips bit 2 of the type byte of the
// record header at `record` of `file`, after checking that the flip sends
// RocksDB's follower reader into its loop: the header is FULL, and the 4
// bytes after it, read as a recyclable header's log number, are not the
// file's own number (`file_number`: a WAL's number, 0 for a MANIFEST).
void CopyAndFlipType(const std::string& path, const std::string& file, uint64_t record,
                     uint32_t file_number) {
  fs::copy(ANNALS_TEST_DATA_DIR "/log_damage_store", path, fs::copy_options::recursive);
  const std::string target = StrCat(path, "/", file);
  std::string bytes = testing::ReadFile(target);
  ASSERT_GT(bytes.size(), record + 11) << target;
  ASSERT_EQ(bytes[record + kTypeByte], kFullType) << "the fixture changed: " << target;
  ASSERT_NE(Fixed32At(bytes, record + 7), file_number) << "this flip would not loop";
  bytes[record + kTypeByte] ^= 1 << 2;
  ASSERT_EQ(bytes[record + kTypeByte], kRecyclableFullType);
  testing::WriteFile(target, bytes);
}

struct OpenOutcome {
  bool hung = false;
  std::string crash;  // How the child ended when it did not report.
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  int64_t events = -1;  // When the open succeeded: the events it serves.
};

// Opens `path` in a forked child (read-only or as the writer), optionally
// damages it further and catches up (`after_open`, run in the child on the
// open store; its status is reported instead of the open's), and reports.
OpenOutcome OpenInChild(const std::string& path, bool read_only,
                        const std::function<absl::Status(EventStore&)>& after_open = nullptr) {
  const testing::ProcessResult r = testing::RunForked(
      [&](int fd) {
        Options options;
        options.read_only = read_only;
        options.create_if_missing = false;
        options.low_priority_compaction = false;
        absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path, options);
        absl::Status s = store.status();
        int64_t events = -1;
        if (s.ok() && after_open) s = after_open(**store);
        if (s.ok()) {
          events = 0;
          s = (*store)->ScanAll({}, [&](const EventView&) {
            ++events;
            return true;
          });
        }
        const std::string out = StrCat(static_cast<int>(s.code()), "\n", events, "\n", s.message());
        if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) _exit(3);
      },
      StrCat(path, ".child"), {.timeout = kDeadline});
  OpenOutcome o;
  o.hung = r.timed_out;
  if (!r.exited || r.exit_code != 0) {
    o.crash = StrCat(r.Describe(), "; stderr: ", r.err);
    return o;
  }
  const size_t first = r.out.find('\n');
  const size_t second = r.out.find('\n', first + 1);
  if (first == std::string::npos || second == std::string::npos) {
    o.crash = StrCat("unreadable report '", r.out, "'");
    return o;
  }
  o.code = static_cast<absl::StatusCode>(std::atoi(r.out.substr(0, first).c_str()));
  o.events = std::atoll(r.out.substr(first + 1, second - first - 1).c_str());
  o.message = r.out.substr(second + 1);
  return o;
}

// The same check for every damaged store: no hang, no crash, kDataLoss
// naming the file and the byte, and what to do.
void ExpectDataLoss(const OpenOutcome& o, const std::string& file, uint64_t record) {
  ASSERT_FALSE(o.hung) << "hung: no answer within " << kDeadline.count() / 1000 << " s";
  ASSERT_EQ(o.crash, "");
  EXPECT_EQ(o.code, absl::StatusCode::kDataLoss)
      << "code " << static_cast<int>(o.code) << " with " << o.events << " events: " << o.message;
  EXPECT_THAT(o.message, HasSubstr(StrCat("byte ", record, " of its ")));
  EXPECT_THAT(o.message, HasSubstr(file));
  EXPECT_THAT(o.message, HasSubstr("restore the store from a backup or an export"));
}

TEST(LogDamageTest, TheUndamagedStoreOpensBothWays) {
  testing::TempDir dir;
  for (bool read_only : {true, false}) {
    const std::string path = dir.Sub(read_only ? "ro" : "rw");
    fs::copy(ANNALS_TEST_DATA_DIR "/log_damage_store", path, fs::copy_options::recursive);
    const OpenOutcome o = OpenInChild(path, read_only);
    ASSERT_FALSE(o.hung);
    ASSERT_EQ(o.crash, "");
    EXPECT_EQ(o.code, absl::StatusCode::kOk) << o.message;
    EXPECT_EQ(o.events, 5);
  }
}

// The bit-flip sweep's hang: RocksDB's follower spun in
// FragmentBufferedReader::TryReadFragment under OpenAsSecondary.
TEST(LogDamageTest, ReadOnlyOpenOfAWalWithARecyclableRecordTypeIsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  ASSERT_NO_FATAL_FAILURE(CopyAndFlipType(path, kWal, kWalRecord, kWalNumber));
  ExpectDataLoss(OpenInChild(path, /*read_only=*/true), kWal, kWalRecord);
}

// RocksDB's writer took the header for the end of the WAL: the open
// succeeded with 2 of the 5 events, and the 3 lost ones had been
// acknowledged.
TEST(LogDamageTest, WriterOpenOfAWalWithARecyclableRecordTypeIsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  ASSERT_NO_FATAL_FAILURE(CopyAndFlipType(path, kWal, kWalRecord, kWalNumber));
  ExpectDataLoss(OpenInChild(path, /*read_only=*/false), kWal, kWalRecord);
  // The refused open changed nothing: the damaged record is still there.
  EXPECT_EQ(testing::ReadFile(StrCat(path, "/", kWal))[kWalRecord + kTypeByte],
            kRecyclableFullType);
}

// The follower's MANIFEST reader (ReactiveVersionSet's ManifestTailer) is the
// same FragmentBufferedReader. The last record: ListColumnFamilies (another
// reader, which stops there) still finds every column family, so the open
// got as far as OpenAsSecondary.
TEST(LogDamageTest, ReadOnlyOpenOfAManifestWithARecyclableRecordTypeIsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  ASSERT_NO_FATAL_FAILURE(CopyAndFlipType(path, kManifest, kManifestRecord, 0));
  ExpectDataLoss(OpenInChild(path, /*read_only=*/true), kManifest, kManifestRecord);
}

TEST(LogDamageTest, WriterOpenOfAManifestWithARecyclableRecordTypeIsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  ASSERT_NO_FATAL_FAILURE(CopyAndFlipType(path, kManifest, kManifestRecord, 0));
  ExpectDataLoss(OpenInChild(path, /*read_only=*/false), kManifest, kManifestRecord);
}

// A follower checks what a writer appended before each catch-up: a damaged
// header appended to the WAL after the open (as if written damaged) is
// kDataLoss from CatchUp(), not a CatchUp() that never returns.
TEST(LogDamageTest, AFollowerCatchingUpOverADamagedRecordReportsDataLoss) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  fs::copy(ANNALS_TEST_DATA_DIR "/log_damage_store", path, fs::copy_options::recursive);
  const std::string wal = StrCat(path, "/", kWal);
  const uint64_t appended_at = testing::ReadFile(wal).size();
  const OpenOutcome o = OpenInChild(path, /*read_only=*/true, [&](EventStore& store) {
    if (store.last_position() != 5) return absl::InternalError("the fixture changed");
    // A recyclable FULL header (CRC, length 16, type 5, log number 7) and
    // its 16 bytes: RocksDB's reader loops on it because 7 is not 32.
    std::string record("\x12\x34\x56\x78\x10\x00\x05\x07\x00\x00\x00", 11);
    record += std::string(16, 'x');
    std::ofstream(wal, std::ios::binary | std::ios::app) << record;
    return store.CatchUp();
  });
  ExpectDataLoss(o, kWal, appended_at);
}

}  // namespace
}  // namespace annals
