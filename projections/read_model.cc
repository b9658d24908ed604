// ReadModelSnapshot (consistent query views) and SecondaryIndex.

#include "annals/read_model.h"

#include "annals/event_store.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/batch_writer.h"
#include "projections/internal/families.h"
#include "projections/internal/keys.h"

namespace annals {
namespace {

using projections_internal::DbGet;
using projections_internal::DbScan;

// Holds a RocksDB snapshot: the active generation, the checkpoint and every
// table read through it belong to one committed state.
class SnapshotImpl final : public ReadModelSnapshot {
 public:
  explicit SnapshotImpl(const projections_internal::ProjectionFamilies& families)
      : db_(families.db),
        cf_(families.read_models),
        checkpoints_(families.checkpoints),
        snapshot_(db_->GetSnapshot()) {}
  ~SnapshotImpl() override { db_->ReleaseSnapshot(snapshot_); }

  absl::Status Load(std::string_view name) {
    RETURN_IF_ERROR(projections_internal::ValidateName("projection", name));
    absl::StatusOr<std::optional<std::string>> gen =
        DbGet(db_, checkpoints_, snapshot_, projections_internal::ActiveGenerationKey(name));
    if (!gen.ok()) return gen.status();
    generation_ = 1;
    if (gen->has_value()) {
      if ((*gen)->size() != 4) return absl::DataLossError("malformed active-generation record");
      generation_ = projections_internal::DecodeGeneration(**gen);
    }
    absl::StatusOr<std::optional<std::string>> cp =
        DbGet(db_, checkpoints_, snapshot_, projections_internal::CheckpointKey(name, generation_));
    if (!cp.ok()) return cp.status();
    if (cp->has_value()) {
      if ((*cp)->size() != 8) return absl::DataLossError("malformed checkpoint record");
      position_ = coding::DecodeBigEndian64(**cp);
    }
    prefix_ = projections_internal::GenerationPrefix(name, generation_);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view table,
                                                 std::string_view key) const override {
    absl::StatusOr<std::string> full = FullKey(table, key);
    if (!full.ok()) return full.status();
    return DbGet(db_, cf_, snapshot_, *full);
  }

  absl::Status Scan(std::string_view table, std::string_view prefix,
                    ReadModelVisitor visit) const override {
    absl::StatusOr<std::string> full = FullKey(table, prefix);
    if (!full.ok()) return full.status();
    return DbScan(db_, cf_, snapshot_, *full, full->size() - prefix.size(), visit);
  }

  uint64_t position() const override { return position_; }
  uint32_t generation() const override { return generation_; }

 private:
  absl::StatusOr<std::string> FullKey(std::string_view table, std::string_view key) const {
    if (absl::Status s = projections_internal::ValidateName("table", table); !s.ok()) return s;
    std::string out = prefix_;
    out.append(table).push_back('\0');
    out.append(key);
    return out;
  }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::ColumnFamilyHandle* checkpoints_;
  const rocksdb::Snapshot* snapshot_;
  std::string prefix_;
  uint32_t generation_ = 1;
  uint64_t position_ = 0;
};

std::string IndexPrefix(std::string_view value) {
  std::string out;
  coding::PutBigEndian32(&out, static_cast<uint32_t>(value.size()));
  out.append(value);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReadModelSnapshot>> ReadModelSnapshot::Open(
    EventStore& store, std::string_view projection) {
  ASSIGN_OR_RETURN(const projections_internal::ProjectionFamilies families,
                   projections_internal::GetFamilies(store));
  auto snapshot = std::make_unique<SnapshotImpl>(families);
  if (absl::Status s = snapshot->Load(projection); !s.ok()) return s;
  return std::unique_ptr<ReadModelSnapshot>(std::move(snapshot));
}

absl::Status SecondaryIndex::Update(ReadModelWriter& writer, std::string_view primary_key,
                                    std::optional<std::string_view> old_value,
                                    std::optional<std::string_view> new_value) const {
  if (old_value == new_value) return absl::OkStatus();
  if (old_value.has_value()) {
    absl::Status s = writer.Delete(table_, IndexPrefix(*old_value).append(primary_key));
    if (!s.ok()) return s;
  }
  if (new_value.has_value()) {
    return writer.Put(table_, IndexPrefix(*new_value).append(primary_key), "");
  }
  return absl::OkStatus();
}

absl::Status SecondaryIndex::Lookup(
    const ReadModelReader& reader, std::string_view value,
    absl::FunctionRef<bool(std::string_view primary_key)> visit) const {
  const std::string prefix = IndexPrefix(value);
  return reader.Scan(table_, prefix, [&](std::string_view key, std::string_view) {
    return visit(key.substr(prefix.size()));
  });
}

}  // namespace annals
