// File: eventstore/internal/keys.h
//
// Column families and key grammar of store format version 4 (also in
// docs/format.md). All integers in keys are big-endian so that byte order is
// numeric order.
//
//   default      "format_version"           -> decimal format version ("4")
//                "next_stream_id"           -> be64 next numeric stream id
//                "commit"                   -> last_position:be64 last_hash:32
//                                              (version 2; written in every
//                                              group's WriteBatch)
//   log          position:be64              -> Record (schemas/record.fbs)
//   stream_index stream_id:be64 version:be64 -> position:be64
//   heads        stream name (raw bytes)    -> Head (see EncodeHead)
//   event_ids    event id:16                -> position:be64 stream_id:be64 version:be64
//
// Those are the event store's own families. Other modules own theirs
// (column_family.h): snapshots/ owns "snapshots", projections/ owns
// "checkpoints", "read_models" and "parked".

#ifndef ANNALS_EVENTSTORE_INTERNAL_KEYS_H_
#define ANNALS_EVENTSTORE_INTERNAL_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "eventstore/internal/column_family.h"

namespace annals::internal {

// Version 2 added the commit record, version 3 two fields of the record
// (payload compression and cipher, schemas/record.fbs). Older stores are
// upgraded in place by the first writer open (which writes the commit record
// and the current version in one synced batch); read-only opens read them as they are
// (version 1 without the commit record cross-check). Their records need no
// rewriting: the new fields' defaults mean "as before". The bump makes an
// older annals refuse a store that may hold compressed records ("use a newer
// annals") instead of reporting them as damaged.
// Version 4 (issue 13: retention, deletion, scavenging, crypto-shredding)
// adds stream metadata, stubs of scavenged events and sealed records with a
// data subject; an older annals would show deleted events or call stubs
// damage, so it must refuse the store. Older stores need no rewriting.
inline constexpr int kFormatVersion = 4;
inline constexpr int kFirstFormatWithCommitRecord = 2;
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kNextStreamIdKey = "next_stream_id";
inline constexpr std::string_view kCommitKey = "commit";

// The event store's own column families; the append and read paths index
// EventStore::Impl's handles with these.
enum Family : int {
  kDefaultFamily = 0,
  kLogFamily,
  kStreamIndexFamily,
  kHeadsFamily,
  kEventIdsFamily,
  kCoreFamilyCount,
};

// Their names and tuning, in Family order.
inline constexpr std::array<ColumnFamilySpec, kCoreFamilyCount> kCoreFamilies = {{
    {.name = "default"},
    // Sequential keys and mostly range scans: bigger blocks, no filter, and
    // RocksDB's default file size.
    {.name = "log",
     .tuning = {.block_size = 16 * 1024, .bloom_bits_per_key = 0, .target_file_bytes = 0}},
    // Read by iterator seeks (stream reads), which whole-key filters cannot
    // serve, and by Verify's point lookups, which all hit. A filter there was
    // pure cost: 1.25 bytes of cache per event and its build CPU in every
    // flush and compaction.
    {.name = "stream_index", .tuning = {.bloom_bits_per_key = 0}},
    // The committer looks up every head it does not cache; most lookups of
    // new streams miss (see event_ids for the memtable filter).
    {.name = "heads", .tuning = {.memtable_bloom = true}},
    // Every appended id is looked up and almost every lookup misses, probing
    // one filter per L0 file and per level; each false positive reads,
    // decompresses and checksums a data block. 16 bits per key (false
    // positives ~0.1% instead of ~1% at 10) cost 2 instead of 1.25 bytes of
    // cache per event, paid for by the stream index having no filter. Without
    // a memtable filter each miss walks the skiplist: profiled at ~30% of
    // buffered-append CPU; the memtable filter gave +19% to +38% in the bench
    // helper's alternating runs.
    {.name = "event_ids", .tuning = {.bloom_bits_per_key = 16, .memtable_bloom = true}},
}};

inline bool IsCoreFamily(std::string_view name) {
  for (const ColumnFamilySpec& core : kCoreFamilies) {
    if (core.name == name) return true;
  }
  return false;
}

// A stream head: what the committer needs to check and extend a stream.
struct Head {
  uint64_t stream_id = 0;
  uint64_t version = 0;
  uint64_t last_position = 0;
};

inline std::string EncodeHead(const Head& h) {
  std::string out;
  coding::PutBigEndian64(&out, h.stream_id);
  coding::PutBigEndian64(&out, h.version);
  coding::PutBigEndian64(&out, h.last_position);
  return out;
}

inline bool DecodeHead(std::string_view in, Head* h) {
  if (in.size() != 24) return false;
  h->stream_id = coding::DecodeBigEndian64(in);
  h->version = coding::DecodeBigEndian64(in.substr(8));
  h->last_position = coding::DecodeBigEndian64(in.substr(16));
  return true;
}

inline std::string StreamIndexKey(uint64_t stream_id, uint64_t version) {
  std::string out;
  out.reserve(16);
  coding::PutBigEndian64(&out, stream_id);
  coding::PutBigEndian64(&out, version);
  return out;
}

// The commit record: where the log ends, written in the same WriteBatch as
// the events it covers. The log lives in its own column family, and a
// RocksDB secondary that cannot verify a table silently keeps that family at
// an older version; comparing this record (in `default`) with the last record
// of `log` makes a rolled-back family of either side visible.
struct CommitRecord {
  uint64_t last_position = 0;
  std::string last_hash;  // 32 bytes; empty when last_position is 0.
};

inline std::string EncodeCommitRecord(uint64_t last_position, std::string_view last_hash) {
  std::string out;
  out.reserve(8 + last_hash.size());
  coding::PutBigEndian64(&out, last_position);
  out.append(last_hash);
  return out;
}

// 8 bytes (position 0, an empty log) or 40.
inline bool DecodeCommitRecord(std::string_view in, CommitRecord* c) {
  if (in.size() != 8 + 32 && in.size() != 8) return false;
  c->last_position = coding::DecodeBigEndian64(in);
  c->last_hash = std::string(in.substr(8));
  return (c->last_position == 0) == c->last_hash.empty();
}

struct EventIdEntry {
  uint64_t position = 0;
  uint64_t stream_id = 0;
  uint64_t version = 0;
};

inline std::string EncodeEventIdEntry(const EventIdEntry& e) {
  std::string out;
  coding::PutBigEndian64(&out, e.position);
  coding::PutBigEndian64(&out, e.stream_id);
  coding::PutBigEndian64(&out, e.version);
  return out;
}

inline bool DecodeEventIdEntry(std::string_view in, EventIdEntry* e) {
  if (in.size() != 24) return false;
  e->position = coding::DecodeBigEndian64(in);
  e->stream_id = coding::DecodeBigEndian64(in.substr(8));
  e->version = coding::DecodeBigEndian64(in.substr(16));
  return true;
}

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_KEYS_H_
