// BatchWriter and the committed-state read helpers shared with
// ReadModelSnapshot.

#include "projections/internal/batch_writer.h"

#include "annals/user_code.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/keys.h"

namespace annals::projections_internal {

namespace {
constexpr std::string_view kVisitorCallback = "a read-model Scan() visitor";
}  // namespace

absl::StatusOr<std::optional<std::string>> DbGet(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                 const rocksdb::Snapshot* snapshot,
                                                 const std::string& key) {
  if (cf == nullptr) return std::optional<std::string>();  // A family not created yet.
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  rocksdb::Status s = db->Get(ro, cf, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return internal::FromRocksDb(s, "reading a read model");
  return std::optional<std::string>(std::move(value));
}

absl::Status DbScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                    const rocksdb::Snapshot* snapshot, const std::string& prefix, size_t strip,
                    ReadModelVisitor visit) {
  if (cf == nullptr) return absl::OkStatus();  // A family not created yet.
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  const std::string upper = PrefixSuccessor(prefix);
  rocksdb::Slice upper_slice(upper);
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (!k.starts_with(prefix)) break;
    bool more = false;
    try {
      more = visit(std::string_view(k.data() + strip, k.size() - strip),
                   std::string_view(it->value().data(), it->value().size()));
    } catch (...) {
      return user_code_internal::StatusFromCurrentException(kVisitorCallback);
    }
    if (!more) break;
  }
  return internal::FromRocksDb(it->status(), "scanning a read model");
}

BatchWriter::BatchWriter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* read_models)
    : db_(db), cf_(read_models) {}

void BatchWriter::SetNamespace(std::string_view name, uint32_t generation) {
  prefix_ = GenerationPrefix(name, generation);
  Clear();
}

void BatchWriter::Clear() {
  overlay_.clear();
  undo_.clear();
  bytes_ = 0;
}

void BatchWriter::Flush() {
  for (const auto& [key, value] : overlay_) {
    if (value.has_value()) {
      batch_->Put(cf_, key, *value);
    } else {
      batch_->Delete(cf_, key);
    }
  }
}

void BatchWriter::UndoFrom(uint64_t position) {
  while (!undo_.empty() && undo_.back().tag >= position) {
    Undo& u = undo_.back();
    if (u.existed) {
      overlay_[u.key] = std::move(u.previous);
    } else {
      overlay_.erase(u.key);
    }
    undo_.pop_back();
  }
}

absl::Status BatchWriter::CheckTable(std::string_view table) const {
  // Projections use a few tables over and over: validate each change only.
  if (table == last_table_ && !last_table_.empty()) return absl::OkStatus();
  if (absl::Status s = ValidateName("table", table); !s.ok()) return s;
  last_table_.assign(table);
  return absl::OkStatus();
}

absl::Status BatchWriter::FullKeyInto(std::string_view table, std::string_view key) const {
  if (absl::Status s = CheckTable(table); !s.ok()) return s;
  scratch_.assign(prefix_).append(table).push_back('\0');
  scratch_.append(key);
  return absl::OkStatus();
}

absl::StatusOr<std::string> BatchWriter::FullKey(std::string_view table,
                                                 std::string_view key) const {
  if (absl::Status s = FullKeyInto(table, key); !s.ok()) return s;
  return scratch_;
}

void BatchWriter::Record(std::string key, std::optional<std::string> value) {
  auto it = overlay_.find(key);
  Undo u{tag_, key, it != overlay_.end(), std::nullopt};
  if (u.existed) {
    u.previous = std::move(it->second);
    it->second = std::move(value);
  } else {
    overlay_.emplace(key, std::move(value));
  }
  undo_.push_back(std::move(u));
}

absl::Status BatchWriter::Put(std::string_view table, std::string_view key,
                              std::string_view value) {
  absl::StatusOr<std::string> full = FullKey(table, key);
  if (!full.ok()) return full.status();
  if (batch_ == nullptr)
    return absl::FailedPreconditionError("read-model writer used outside Apply()");
  if (immediate_) {
    rocksdb::Status s = batch_->Put(cf_, *full, rocksdb::Slice(value.data(), value.size()));
    if (!s.ok()) return internal::FromRocksDb(s, "adding a read-model write to the batch");
  }
  bytes_ += full->size() + value.size();
  Record(std::move(*full), std::string(value));
  return absl::OkStatus();
}

absl::Status BatchWriter::Delete(std::string_view table, std::string_view key) {
  absl::StatusOr<std::string> full = FullKey(table, key);
  if (!full.ok()) return full.status();
  if (batch_ == nullptr)
    return absl::FailedPreconditionError("read-model writer used outside Apply()");
  if (immediate_) {
    rocksdb::Status s = batch_->Delete(cf_, *full);
    if (!s.ok()) return internal::FromRocksDb(s, "adding a read-model delete to the batch");
  }
  bytes_ += full->size();
  Record(std::move(*full), std::nullopt);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BatchWriter::Get(std::string_view table,
                                                            std::string_view key) const {
  if (absl::Status s = FullKeyInto(table, key); !s.ok()) return s;
  if (auto it = overlay_.find(scratch_); it != overlay_.end()) return it->second;
  return DbGet(db_, cf_, nullptr, scratch_);
}

absl::Status BatchWriter::Scan(std::string_view table, std::string_view prefix,
                               ReadModelVisitor visit) const {
  absl::StatusOr<std::string> full = FullKey(table, prefix);
  if (!full.ok()) return full.status();
  const size_t strip = full->size() - prefix.size();
  if (overlay_.empty()) return DbScan(db_, cf_, nullptr, *full, strip, visit);

  // The overlay's entries are handed to `visit` here, not by DbScan(): its
  // exceptions are caught here too (see annals/user_code.h).
  absl::Status thrown;
  auto guarded = [&](std::string_view key, std::string_view value) {
    try {
      return visit(key, value);
    } catch (...) {
      thrown = user_code_internal::StatusFromCurrentException(kVisitorCallback);
      return false;
    }
  };

  // Merge committed state with the overlay; the overlay wins on equal keys.
  auto ov = overlay_.lower_bound(*full);
  auto ov_valid = [&] { return ov != overlay_.end() && ov->first.starts_with(*full); };
  bool stopped = false;
  auto emit_overlay_until = [&](std::string_view bound, bool inclusive) {
    while (!stopped && ov_valid() && (ov->first < bound || (inclusive && ov->first == bound))) {
      if (ov->second.has_value()) {
        const std::string_view k(ov->first);
        stopped = !guarded(k.substr(strip), *ov->second);
      }
      ++ov;
    }
  };
  absl::Status s =
      DbScan(db_, cf_, nullptr, *full, 0, [&](std::string_view key, std::string_view value) {
        emit_overlay_until(key, /*inclusive=*/false);
        if (stopped) return false;
        if (ov_valid() && ov->first == key) {
          emit_overlay_until(key, /*inclusive=*/true);
          return !stopped;
        }
        stopped = !guarded(key.substr(strip), value);
        return !stopped;
      });
  if (!thrown.ok()) return thrown;
  if (!s.ok()) return s;
  while (!stopped && ov_valid()) {
    if (ov->second.has_value()) {
      const std::string_view k(ov->first);
      stopped = !guarded(k.substr(strip), *ov->second);
    }
    ++ov;
  }
  return thrown;
}

}  // namespace annals::projections_internal
