// File: annals/options.h
//
// Options: how an EventStore is opened. Every field states its default and the
// trade-off it controls. Per-call options live next to the calls
// (AppendOptions is not needed: durability is a property of the store so that
// one group commit never mixes synced and unsynced acknowledgements).
//
// Thread-safety: plain value types.

#ifndef ANNALS_OPTIONS_H_
#define ANNALS_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "annals/encryption.h"
#include "annals/log_sink.h"

namespace annals {

class Statistics;  // annals/statistics.h

// When an append is acknowledged.
enum class Durability : uint8_t {
  // Append returns OK only after its events are in a synced (fsync'ed) WAL:
  // survives a process crash and a power loss.
  kSync,
  // Append returns after the OS has the WAL write: survives a process crash,
  // not a power loss or kernel crash.
  kBuffered,
};

// Compression of the log's SST files. The newest data (L0/L1) is always kept
// uncompressed or LZ4 for speed; this chooses the bottom level.
enum class Compression : uint8_t {
  kNone,
  kLz4,
  kZstd,
};

// Compression of each event's payload inside its record (see
// Options::payload_compression).
enum class PayloadCompression : uint8_t {
  kNone,
  kZstd,
};

struct Options {
  // Default: Durability::kSync. See Durability.
  Durability durability = Durability::kSync;

  // Create the store when `path` does not hold one.
  // Default: true. With false, opening a missing store fails with kNotFound.
  bool create_if_missing = true;

  // Retention that waits for durable consumers (docs/lifecycle.md,
  // "Consumer-aware retention"). When true and at least one consumer is
  // registered (EventStore::SetConsumerPosition(); every async
  // ProjectionRunner registers itself), the retention limits of stream
  // metadata (max_count, max_age, truncate_before) hide an event, and let a
  // scavenge reclaim it, only once every registered consumer has passed its
  // position. Deletes (soft and hard) act at once either way.
  // Default: false. Retention limits are often obligations (an age limit
  // for data minimisation), and with true a consumer that stops, or one
  // nobody removed, keeps every later event of every stream with limits
  // forever, silently; false behaves as EventStoreDB does. Turn it on when
  // a projection must never miss an event to retention.
  bool retention_waits_for_consumers = false;

  // Open as a read-only follower (RocksDB secondary instance): works while
  // another process has the store open for writing; sees a growing,
  // contiguous prefix of the log, refreshed by EventStore::CatchUp().
  // Append fails with kFailedPrecondition.
  // Default: false.
  bool read_only = false;

  // Shared LRU block cache for all column families. Bounds read memory.
  // Default: 64 MiB. Larger values help random reads (stream reads of cold
  // streams, event-id lookups); scans do not need it.
  // Appends look up every caller-chosen event id, which probes the Bloom
  // filters of the event-id index (about 2 bytes per stored event). While
  // the filters fit here a probe costs no I/O; by that arithmetic the
  // default holds the filters of about 30 million events, fewer when reads
  // compete for the cache. Past that, appends slow down
  // gradually rather than fall off a cliff: with a 4 MiB cache, the last
  // 500k of 5M events cost the committer about 1.8x the CPU per event of
  // the first 500k.
  // docs/benchmarks.md ("Growth and memory") has the figures.
  size_t block_cache_bytes = 64u << 20;

  // Memtable size per column family; RocksDB keeps up to 2 per family.
  // Default: 32 MiB. Larger values mean fewer, bigger flushes and longer
  // recovery after a crash.
  size_t write_buffer_bytes = 32u << 20;

  // Upper bound on the memory of all memtables together (RocksDB's
  // db_write_buffer_size); reaching it flushes the largest memtable early.
  // Also bounds the WAL kept for recovery to twice this.
  // Default: 256 MiB.
  size_t max_memtable_bytes = 256u << 20;

  // Default: Compression::kZstd (bottommost level; upper levels use LZ4).
  Compression compression = Compression::kZstd;

  // Compress each event's payload (zstd) before it goes into its record.
  // Readers get the payload back as appended, and the hash chain covers the
  // payload as appended, so this setting never changes a hash: it can be
  // changed between opens (it applies to new events; a store holds records
  // of both kinds) and an export imports into a store with either setting
  // with the same hashes (docs/format.md).
  // RocksDB already compresses the log's files (`compression` above), so on
  // disk this gains little once data is compacted. What it saves is the
  // bytes the write path carries before that: the WAL and its fsyncs, the
  // memtables, the first levels and their compactions; worth it for large,
  // compressible payloads (JSON documents of kilobytes). It costs CPU in the
  // committer, which appends wait for (every compression runs there), and on
  // every read and verify (decompression). docs/benchmarks.md has figures.
  // Default: PayloadCompression::kNone.
  PayloadCompression payload_compression = PayloadCompression::kNone;

  // With payload_compression, payloads smaller than this are stored as
  // appended: zstd's frame costs about 10 bytes and small payloads rarely
  // shrink. Larger ones are stored compressed only when that saves at least
  // 1/8 of their size (RocksDB's rule for blocks), so incompressible
  // payloads (already compressed, encrypted, random) cost one attempt and
  // are stored as they are, read without decompression.
  // Default: 512 bytes.
  size_t payload_compression_min_bytes = 512;

  // Largest accepted event (payload + metadata + ids + type), in bytes.
  // Appends with a larger event fail with kInvalidArgument.
  // Default: 16 MiB.
  size_t max_event_bytes = 16u << 20;

  // Largest total size of one append call, in bytes.
  // Default: 64 MiB.
  size_t max_append_bytes = 64u << 20;

  // Upper bound on the bytes the committer puts into one WriteBatch. A group
  // commit takes queued appends until this is reached (one append is never
  // split). Default: 8 MiB.
  size_t max_group_commit_bytes = 8u << 20;

  // Number of stream heads (stream -> id, version) kept in memory by the
  // committer. Heads beyond it are read from RocksDB on demand, so memory does
  // not grow with the number of streams. Default: 1,000,000 (~100 MiB max).
  size_t stream_head_cache_entries = 1'000'000;

  // Verify each record's CRC32C when it is read (in addition to RocksDB's
  // block checksums). Measured at about 18% of the CPU of a global-log scan
  // (bench/micro); turn it off only for trusted, RocksDB-checksummed replays.
  // Default: true.
  bool verify_checksums_on_read = true;

  // Run RocksDB's compactions at the lowest CPU priority (nice 19), so that
  // on a busy machine appends and reads get the cores first and compaction
  // uses what is left; flushes keep normal priority, so memtables never wait
  // on it. If compaction falls behind, RocksDB's own L0 limits slow writes
  // down until it catches up, as they would without this. On 2 cores it gave
  // about 8% more buffered appends over a 10M-event run (docs/benchmarks.md).
  // PROCESS-WIDE: the compaction threads belong to RocksDB's default Env,
  // shared by every store and RocksDB database in the process, and RocksDB
  // can only lower their priority, never raise it back: once one store opens
  // with true, they stay at nice 19 until the process exits.
  // Default: true. Set false in every store of a process that must not change
  // the priority of RocksDB's threads (one that opens other RocksDB databases
  // whose compactions must not yield).
  bool low_priority_compaction = true;

  // Where RocksDB's diagnostic messages go (background errors, flush and
  // compaction trouble, recovery), at the sink's min_level() and above.
  // They are never written into the store's directory: RocksDB's own `LOG`
  // file there made a full disk abort the process (annals/log_sink.h).
  // Default: null, the messages are dropped; the errors that matter reach
  // the caller as Status.
  std::shared_ptr<LogSink> log_sink{};

  // Counters and histograms the store and everything built on it (snapshot
  // stores, repositories, projection runners) fill while they work: append
  // latency, group commits, fsyncs, bytes, reads, snapshot hits, projection
  // lag (annals/statistics.h, docs/statistics.md). Several stores may share
  // one object; they then count together.
  // Default: null, nothing is recorded (one pointer check per call site).
  // With CreateStatistics() the cost is a few relaxed atomic adds per append
  // call and per group commit (docs/statistics.md has the measured figure).
  std::shared_ptr<Statistics> statistics{};

  // Crypto-shredding (annals/encryption.h): seal the payload of every event
  // with a subject under that subject's key, which ForgetSubject() destroys.
  // Costs an AES-256-GCM seal per such event in the committer and a key
  // lookup per new subject (docs/lifecycle.md has the measured overhead).
  // Default: none; events with a subject are stored in the clear.
  std::optional<EncryptionOptions> encryption{};
};

}  // namespace annals

#endif  // ANNALS_OPTIONS_H_
