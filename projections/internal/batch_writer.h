// File: projections/internal/batch_writer.h
//
// BatchWriter: the ReadModelWriter handed to Projection::Apply(). It writes
// into a RocksDB WriteBatch that the caller commits together with the
// projection's checkpoint, and keeps an overlay (full key -> value or
// tombstone) of the writes made since the last Clear(), so that reads see the
// projection's own uncommitted writes. This matters for inline projections,
// whose batch is the committer's: a later event of the same group commit must
// see what an earlier one wrote (a plain WriteBatch cannot be read).
//
// Every overlay change is tagged with the position of the event being applied
// and recorded in an undo log, so the writes of a failed event (async) or of
// a rolled-back append (inline) can be withdrawn with UndoFrom(position).
//
// Thread-safety: not thread-safe; owned by one runner and used under its
// apply mutex.

#ifndef ANNALS_PROJECTIONS_INTERNAL_BATCH_WRITER_H_
#define ANNALS_PROJECTIONS_INTERNAL_BATCH_WRITER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "annals/read_model.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace annals::projections_internal {

// Reads of committed state of one of the module's families, optionally at a
// snapshot. A null `cf` (a family a read-only store does not have yet, see
// families.h) reads as empty.
absl::StatusOr<std::optional<std::string>> DbGet(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                 const rocksdb::Snapshot* snapshot,
                                                 const std::string& key);

// Visits committed keys starting with `prefix`, handing `visit` the key
// without its first `strip` bytes.
absl::Status DbScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                    const rocksdb::Snapshot* snapshot, const std::string& prefix, size_t strip,
                    ReadModelVisitor visit);

class BatchWriter final : public ReadModelWriter {
 public:
  BatchWriter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* read_models);

  // Tables from now on live under GenerationPrefix(name, generation).
  // Clears the overlay.
  void SetNamespace(std::string_view name, uint32_t generation);
  // Writes from now on go to `batch` (not owned; may be null between uses).
  // Immediate (inline projections, whose batch is the committer's and is
  // rolled back with save points): every Put/Delete is added to the batch at
  // once. Deferred (async, rebuilds): writes only update the overlay and
  // Flush() adds each key's final value, so a batch that updates one counter
  // 1000 times writes it once.
  void Bind(rocksdb::WriteBatch* batch, bool immediate) {
    batch_ = batch;
    immediate_ = immediate;
  }
  // Deferred mode: adds the overlay's final values to the bound batch.
  void Flush();
  // Approximate bytes written since the last Clear().
  size_t bytes() const { return bytes_; }
  // Tag of the following writes (the position of the event being applied).
  void set_tag(uint64_t position) { tag_ = position; }
  // Withdraws the overlay changes tagged >= `position` (the caller rolls the
  // WriteBatch back itself).
  void UndoFrom(uint64_t position);
  // Forgets the overlay (after the batch was committed or discarded).
  void Clear();

  absl::StatusOr<std::optional<std::string>> Get(std::string_view table,
                                                 std::string_view key) const override;
  absl::Status Scan(std::string_view table, std::string_view prefix,
                    ReadModelVisitor visit) const override;
  absl::Status Put(std::string_view table, std::string_view key, std::string_view value) override;
  absl::Status Delete(std::string_view table, std::string_view key) override;

 private:
  absl::StatusOr<std::string> FullKey(std::string_view table, std::string_view key) const;
  // FullKey() into scratch_ (no allocation once warm); valid until the next call.
  absl::Status FullKeyInto(std::string_view table, std::string_view key) const;
  absl::Status CheckTable(std::string_view table) const;
  void Record(std::string key, std::optional<std::string> value);

  struct Undo {
    uint64_t tag;
    std::string key;
    bool existed;  // Whether the overlay had an entry before.
    std::optional<std::string> previous;
  };

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  std::string prefix_;
  rocksdb::WriteBatch* batch_ = nullptr;
  bool immediate_ = true;
  size_t bytes_ = 0;
  uint64_t tag_ = 0;
  std::map<std::string, std::optional<std::string>, std::less<>> overlay_;
  std::vector<Undo> undo_;
  // Caches the const reads (Get, Scan) reuse: mutable because they change no
  // observable state, and safe because a BatchWriter is used by one thread
  // at a time (see ReadModelWriter).
  mutable std::string scratch_;
  mutable std::string last_table_;  // The last table name that passed validation.
};

}  // namespace annals::projections_internal

#endif  // ANNALS_PROJECTIONS_INTERNAL_BATCH_WRITER_H_
