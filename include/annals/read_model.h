// File: annals/read_model.h
//
// Read-model storage: the tables a projection materializes and queries read.
//
// Every projection owns a namespace of named tables (ordered key -> value
// maps, keys and values are arbitrary bytes) in the store's "read_models"
// column family. A projection writes them only through a ReadModelWriter,
// which is bound to the same RocksDB WriteBatch as the projection's
// checkpoint: an event's effect and the checkpoint that says "applied" are
// committed together, so each event is applied exactly once across crashes.
//
// Queries read through a ReadModelSnapshot: a consistent, immutable view (a
// RocksDB snapshot) of one projection's tables and its checkpoint, unaffected
// by writes that happen while it is held.
//
// SecondaryIndex maintains an index table (value -> primary keys) next to a
// primary table.
//
// Example (in a projection's Apply):
//   absl::StatusOr<std::optional<std::string>> count = writer.Get("per_type", event.type);
//   if (!count.ok()) return count.status();
//   return writer.Put("per_type", event.type, std::to_string(Parse(*count) + 1));
// and in a query:
//   auto view = annals::ReadModelSnapshot::Open(store, "type_counts");
//   auto count = (*view)->Get("per_type", "OrderPlaced");
//
// Names: projection and table names are non-empty, at most 128 bytes and must
// not contain a NUL byte (they are NUL-terminated inside keys).

#ifndef ANNALS_READ_MODEL_H_
#define ANNALS_READ_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace annals {

class EventStore;

// Visitor of a scan: returns false to stop. If it throws, the scan stops and
// Scan() returns kInternal with the exception's type and message
// (annals/user_code.h); the iterator and snapshot it used are released.
using ReadModelVisitor = absl::FunctionRef<bool(std::string_view key, std::string_view value)>;

// ReadModelReader
//
// Read access to one projection's tables. Implemented by ReadModelWriter
// (reads see the writer's own not-yet-committed writes) and by
// ReadModelSnapshot (a committed, consistent state). Reads are const: a
// function that only queries takes a `const ReadModelReader&`.
class ReadModelReader {
 public:
  virtual ~ReadModelReader() = default;

  // ReadModelReader::Get()
  //
  // The value of `key` in `table`, or std::nullopt when absent.
  // kInvalidArgument for a bad table name; kDataLoss on corruption.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view table,
                                                         std::string_view key) const = 0;

  // ReadModelReader::Scan()
  //
  // Visits the entries of `table` whose key starts with `prefix` (all when
  // empty), in byte-wise key order. The views are valid only during the call
  // to `visit`. kInternal when `visit` throws (see ReadModelVisitor).
  virtual absl::Status Scan(std::string_view table, std::string_view prefix,
                            ReadModelVisitor visit) const = 0;
};

// ReadModelWriter
//
// Handed to Projection::Apply(). Writes go into the projection's pending
// WriteBatch (committed with the checkpoint); reads see committed state plus
// the writes made earlier in the same batch, including those of earlier events
// of the same group commit for inline projections.
//
// Thread-safety: not thread-safe; used only on the thread that called Apply(),
// and only during that call.
class ReadModelWriter : public ReadModelReader {
 public:
  // ReadModelWriter::Put() / Delete()
  //
  // kInvalidArgument for a bad table name. Nothing is visible to queries until
  // the batch commits.
  virtual absl::Status Put(std::string_view table, std::string_view key,
                           std::string_view value) = 0;
  virtual absl::Status Delete(std::string_view table, std::string_view key) = 0;
};

// ReadModelSnapshot
//
// A consistent view of one projection's read model: the tables of its active
// generation and its checkpoint, as of Open(). Holding it pins a RocksDB
// snapshot (old versions of changed keys are kept), so hold it for the length
// of a query, not for hours.
//
// Thread-safety: Get() and Scan() may be called from several threads at once.
class ReadModelSnapshot : public ReadModelReader {
 public:
  // ReadModelSnapshot::Open()
  //
  // Opens a view of projection `projection`'s read model. A projection that
  // never ran has empty tables and position 0. kInvalidArgument for a bad
  // name.
  static absl::StatusOr<std::unique_ptr<ReadModelSnapshot>> Open(EventStore& store,
                                                                 std::string_view projection);

  // The global position up to which the read model reflects the log.
  virtual uint64_t position() const = 0;
  // The generation (bumped by each side-by-side rebuild) the view reads.
  virtual uint32_t generation() const = 0;
};

// SecondaryIndex
//
// An index table mapping a value of a primary row (e.g. an order's status) to
// the primary keys having it. Entries are keys
//   len(value):be32 value primary_key  -> ""
// in the index table, so a lookup is one prefix scan.
//
// Thread-safety: immutable after construction; safe from any thread.
class SecondaryIndex {
 public:
  explicit SecondaryIndex(std::string table) : table_(std::move(table)) {}

  // SecondaryIndex::Update()
  //
  // Moves `primary_key` from `old_value` to `new_value` (either may be absent:
  // insertion or removal).
  absl::Status Update(ReadModelWriter& writer, std::string_view primary_key,
                      std::optional<std::string_view> old_value,
                      std::optional<std::string_view> new_value) const;

  // SecondaryIndex::Lookup()
  //
  // Visits the primary keys indexed under `value`, in key order; `visit`
  // returns false to stop. kInternal when `visit` throws.
  absl::Status Lookup(const ReadModelReader& reader, std::string_view value,
                      absl::FunctionRef<bool(std::string_view primary_key)> visit) const;

  const std::string& table() const { return table_; }

 private:
  std::string table_;
};

}  // namespace annals

#endif  // ANNALS_READ_MODEL_H_
