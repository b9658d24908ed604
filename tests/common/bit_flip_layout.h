// File: tests/common/bit_flip_layout.h
//
// Maps the bytes of a RocksDB 7.8 store's files to what they are, so that a
// bit-flip sweep can aim at every kind of block and say where each flip
// landed. Parsed here by hand, independently of RocksDB's reader (a reader
// that trusted the damaged bytes would be what is under test):
//
//   * block-based tables (format_version 2..5): the 53-byte footer (checksum
//     type, metaindex and index BlockHandles as varints, zero padding,
//     format_version u32, magic u64), the metaindex block (name ->
//     BlockHandle), the index block (separator key -> data BlockHandle, delta
//     encoded since format_version 4) and every block's 5-byte trailer
//     (compression type, checksum). RocksDB's table/format.{h,cc} and
//     table/block_based/{block,block_builder}.cc are the reference.
//   * log files (WAL and MANIFEST): 32 KiB blocks of records with a 7-byte
//     header (CRC32C, length, type), RocksDB's db/log_format.h.
//
// Thread-safety: pure functions.

#ifndef ANNALS_TESTS_COMMON_BIT_FLIP_LAYOUT_H_
#define ANNALS_TESTS_COMMON_BIT_FLIP_LAYOUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace annals::testing {

// The kinds of files of a store, by RocksDB's naming.
enum class StoreFileKind {
  kSst,       // NNNNNN.sst
  kWal,       // NNNNNN.log
  kManifest,  // MANIFEST-NNNNNN
  kCurrent,   // CURRENT
  kOptions,   // OPTIONS-NNNNNN
  kIdentity,  // IDENTITY
  kOther,     // LOCK, LOG, LOG.old.*, temporary files: not part of the data
};

StoreFileKind ClassifyStoreFile(std::string_view file_name);
std::string_view StoreFileKindName(StoreFileKind kind);

// A stretch of a file: one block with its trailer, the footer, a log record
// header, ...
struct Region {
  uint64_t offset = 0;
  uint64_t size = 0;
  // "data", "index", "filter", "properties", "metaindex", "footer", or
  // "meta:<name>" for another meta block.
  std::string kind;
  // Ordinal among the regions of this kind in the file (data block 0, 1, ...).
  int ordinal = 0;
  // For blocks: the size of the block without its 5-byte trailer.
  uint64_t body_size = 0;
};

struct SstLayout {
  // Every byte of the file belongs to exactly one region, in file order.
  std::vector<Region> regions;
  uint32_t format_version = 0;
  // From the properties block; empty when unreadable.
  std::string column_family;
  // Compression type byte of the index block's trailer (0 = none).
  int index_compression = 0;
};

// Parses a block-based table. On failure returns false and says why in
// `error` (a test then fails: the sweep must know what it is flipping).
bool ParseSst(std::string_view file, SstLayout* layout, std::string* error);

// Says where `offset` lies in an SST: e.g. "data block 3 (+120 of 4021)",
// "index trailer (checksum byte 2)", "footer: index handle".
std::string DescribeSstOffset(std::string_view file, const SstLayout& layout, uint64_t offset);

// Says where `offset` lies in a WAL or MANIFEST: "block 0, record 3 header
// (crc byte 1), type FULL, 120 bytes" or "... payload +17" or "block padding".
std::string DescribeLogOffset(std::string_view file, uint64_t offset);

// The region holding `offset`, or null.
const Region* RegionAt(const SstLayout& layout, uint64_t offset);

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_BIT_FLIP_LAYOUT_H_
