// The RocksDB options of a store (rocksdb_options.h).

#include "eventstore/internal/rocksdb_options.h"

#include "eventstore/internal/info_log.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace annals::internal {
namespace {

rocksdb::CompressionType BottomCompression(Compression c) {
  switch (c) {
    case Compression::kNone:
      return rocksdb::kNoCompression;
    case Compression::kLz4:
      return rocksdb::kLZ4Compression;
    case Compression::kZstd:
      return rocksdb::kZSTD;
  }
  return rocksdb::kZSTD;
}

}  // namespace

rocksdb::DBOptions DbOptions(const Options& options) {
  rocksdb::DBOptions db_options;
  // Stores are created complete by CreateStore() (event_store_open.cc), and
  // modules create their families explicitly (StoreAccess::Family()).
  db_options.create_if_missing = false;
  db_options.create_missing_column_families = false;
  // Measured on RocksDB 7.8 (shared/reliability-notes.md): the default
  // kPointInTimeRecovery silently dropped synced events after a flipped WAL
  // bit; this mode refuses to open instead, and tolerates only a torn tail.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.recycle_log_file_num = 0;
  db_options.paranoid_checks = true;
  db_options.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  // Secondary (read-only follower) instances require every file open.
  db_options.max_open_files = -1;
  // A follower loads every table handle of every column family at open and
  // at each catch-up, with up to this many new threads per family (default
  // 16: about 490 threads per CLI read-only command, for tens of tables).
  if (options.read_only) db_options.max_file_opening_threads = 1;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Never a LOG file in the store's directory (eventstore/internal/info_log.h).
  db_options.info_log = NewInfoLogger(options.log_sink);
  db_options.keep_log_file_num = 3;
  // Bound memory and recovery time whatever the number of column families:
  // rarely written families would otherwise pin old WAL files for long.
  db_options.db_write_buffer_size = options.max_memtable_bytes;
  db_options.max_total_wal_size = 2 * options.max_memtable_bytes;
  return db_options;
}

std::shared_ptr<rocksdb::Cache> NewBlockCache(size_t bytes) {
  // RocksDB 7.8 keeps half of an LRU cache for high-priority blocks (index
  // and filter blocks), so that scans of the log cannot evict what every
  // append's id lookup needs. Shards of at least 16 MiB: by default RocksDB
  // cuts 64 MiB into 64 shards of 1 MiB, where one pinned L0 filter (up to
  // 0.9 MiB for a 32 MiB memtable flush) fills its shard and every other
  // filter hashed there is re-read from the file on each lookup.
  int shard_bits = 0;
  while (shard_bits < 6 && (bytes >> (shard_bits + 1)) >= (16u << 20)) ++shard_bits;
  return rocksdb::NewLRUCache(bytes, shard_bits);
}

rocksdb::ColumnFamilyOptions FamilyOptions(const Options& options,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           const ColumnFamilyTuning& tuning) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.max_write_buffer_number = 2;
  cf.level_compaction_dynamic_level_bytes = true;
  // New data stays cheap to write and read; only the bottom level, where
  // most bytes end up, pays for the stronger compressor.
  cf.compression = options.compression == Compression::kNone ? rocksdb::kNoCompression
                                                             : rocksdb::kLZ4Compression;
  cf.bottommost_compression = BottomCompression(options.compression);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  table.block_size = tuning.block_size;
  if (tuning.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(tuning.bloom_bits_per_key));
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Small files keep each file's filter small. A filter is one cache block
  // per SST file; with RocksDB's default 64 MiB files the random-keyed
  // event-id index had 1.8 MiB filters, larger than a shard of the block
  // cache (64 MiB / 64 shards), so every id lookup re-read and
  // re-checksummed a whole filter from the file: buffered appends fell from
  // 160k to 6k events/s past 2M events. 8 MiB files give filters of about
  // 220 KiB. Partitioned filters also fix it, but cost a cache lookup and
  // an index search per key and file instead of one batched probe per
  // file: 10.4 against 8.6 µs of committer CPU per event at 10M events.
  // Once the filters outgrow the cache both cost the same (about 11 µs
  // per event with a 4 MiB cache at 5M events).
  if (tuning.target_file_bytes > 0) cf.target_file_size_base = tuning.target_file_bytes;
  if (tuning.memtable_bloom) {
    cf.memtable_prefix_bloom_size_ratio = 0.1;
    cf.memtable_whole_key_filtering = true;
  }
  return cf;
}

}  // namespace annals::internal
