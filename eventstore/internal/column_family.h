// File: eventstore/internal/column_family.h
//
// Column families and who owns them. The event store owns its own families
// (keys.h: default, log, stream_index, heads, event_ids). Every other module
// declares the families it owns with a ColumnFamilySpec and obtains their
// handles through StoreAccess::Family() (store_access.h). The core never
// lists a module's families: a new module adds one without touching
// eventstore/.
//
//   // In the module's .cc file:
//   constexpr internal::ColumnFamilySpec kOutboxFamily{.name = "outbox"};
//   const internal::ColumnFamilyDeclaration kDeclareOutbox(kOutboxFamily);
//   ...
//   ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* outbox,
//                    internal::StoreAccess::Family(store, kOutboxFamily));
//
// Declared families (those of the modules linked into the process) are
// created with a new store and by every writer open of a store that lacks
// them, so that a read-only follower, which opens the families a store has
// when it opens (RocksDB secondaries cannot open one created later), finds
// them. A family that was not declared is created by its first
// StoreAccess::Family() call in a writer.
//
// Tuning changes how fast a family is and how much memory it takes, never
// what a read returns: every family uses RocksDB's bytewise comparator and no
// merge operator. That is why a spec carries a few declared knobs and not a
// free-form rocksdb::ColumnFamilyOptions: a process that does not link the
// module (the CLI, a follower, an older annals) still opens the family, with
// the default tuning, and must read it correctly.

#ifndef ANNALS_EVENTSTORE_INTERNAL_COLUMN_FAMILY_H_
#define ANNALS_EVENTSTORE_INTERNAL_COLUMN_FAMILY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace annals::internal {

// How a family is read, mapped onto RocksDB's table and memtable options by
// FamilyOptions() (eventstore/internal/rocksdb_options.h). The defaults suit
// a family read by point lookups and short prefix scans (snapshots,
// checkpoints, read models, parked events).
struct ColumnFamilyTuning {
  // Size of a data block. Larger blocks suit long range scans (the log uses
  // 16 KiB); 4 KiB keeps a point lookup's read small.
  size_t block_size = 4 * 1024;
  // Bits per key of the whole-key Bloom filter that lets a point lookup
  // (Get) skip files without the key; 0 for no filter. A family read only by
  // iterator seeks gains nothing from one (whole-key filters cannot serve
  // seeks) and pays its cache space and build CPU.
  int bloom_bits_per_key = 10;
  // A Bloom filter over the memtable as well, for families whose point
  // lookups mostly miss (a miss otherwise walks the skiplist).
  bool memtable_bloom = false;
  // Target size of an SST file in bytes; 0 for RocksDB's default (64 MiB).
  // Small files keep each file's filter small enough to stay in a shard of
  // the block cache (docs/architecture.md, "RocksDB settings").
  uint64_t target_file_bytes = 8u << 20;

  bool operator==(const ColumnFamilyTuning&) const = default;
};

// A column family a module owns: its name (1 to 64 bytes of a-z, 0-9 and
// '_', not one of the event store's own families) and its tuning.
struct ColumnFamilySpec {
  std::string_view name{};
  ColumnFamilyTuning tuning{};
};

// ValidateFamilyName()
//
// kInvalidArgument unless `name` may name a module's family.
absl::Status ValidateFamilyName(std::string_view name);

// DeclareColumnFamily()
//
// Records `spec` in this process's table of declared families: every store
// a writer opens (or creates) afterwards gets the family, and every store
// opened afterwards opens it with the spec's tuning. Declaring the same spec
// again is a no-op. Errors (kInvalidArgument): a bad name, the name of one
// of the event store's own families, or a name already declared with
// another tuning (one module owns a family). Modules declare at static
// initialization (ColumnFamilyDeclaration), before main() opens a store.
// Thread-safe.
absl::Status DeclareColumnFamily(const ColumnFamilySpec& spec);

// CheckColumnFamily()
//
// What StoreAccess::Family() checks before it looks a family up: the errors
// of DeclareColumnFamily(), without declaring anything. Thread-safe.
absl::Status CheckColumnFamily(const ColumnFamilySpec& spec);

// DeclaredFamilies()
//
// Every family declared in this process, as name and tuning. Thread-safe.
std::vector<std::pair<std::string, ColumnFamilyTuning>> DeclaredFamilies();

// TuningOf()
//
// The tuning declared for `name` in this process, or the default tuning for
// a family nobody declared (a family on disk that this process's modules do
// not know). Thread-safe.
ColumnFamilyTuning TuningOf(std::string_view name);

// ColumnFamilyDeclaration
//
// Declares a spec during static initialization, i.e. before main() opens any
// store:
//   const internal::ColumnFamilyDeclaration kDeclareOutbox(kOutboxFamily);
// A spec it cannot declare (bad name, clash) is left to
// StoreAccess::Family(), which checks the same spec (CheckColumnFamily())
// and returns the error where the module can handle it.
class ColumnFamilyDeclaration {
 public:
  explicit ColumnFamilyDeclaration(const ColumnFamilySpec& spec);
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_COLUMN_FAMILY_H_
