// ProjectionRunner::Impl, rebuilds: wiping a generation's tables, rebuilding
// in place (the runner pauses while the log is re-applied), and side by side
// (generation g+1 is built while g keeps running, then the runner pauses for
// the tail and switches the active generation in one synced write).
// Locking: projections/internal/runner_impl.h.

#include <algorithm>

#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;
using projections_internal::EncodeGeneration;
using projections_internal::GenerationPrefix;
using projections_internal::NameOf;
using projections_internal::PrefixSuccessor;

namespace {

// Events per WriteBatch while rebuilding: larger batches, fewer writes.
constexpr size_t kRebuildBatchEvents = 8192;

}  // namespace

absl::Status ProjectionRunner::Impl::Wipe(uint32_t generation, bool parked) {
  rocksdb::WriteBatch batch;
  const std::string prefix = GenerationPrefix(name_, generation);
  batch.DeleteRange(read_models_, prefix, PrefixSuccessor(prefix));
  batch.Delete(checkpoints_, CheckpointKey(name_, generation));
  if (parked) {
    const std::string p = projections_internal::ParkedPrefix(name_);
    batch.DeleteRange(parked_, p, PrefixSuccessor(p));
  }
  return internal::FromRocksDb(db_->Write(write_options_, &batch),
                               StrCat("wiping projection '", name_, "'"));
}

absl::Status ProjectionRunner::Impl::Rebuild() {
  MutexLock lock(&apply_mu_);
  RETURN_IF_ERROR(Wipe(build_->generation, /*parked=*/true));
  build_->checkpoint = 0;
  build_->writer.Clear();
  inline_pending_ = 0;
  Publish(0);
  absl::Status s = CatchUpToEnd(*build_, std::max(options_.batch_events, kRebuildBatchEvents));
  inline_pending_ = build_->checkpoint;
  return s;
}

absl::Status ProjectionRunner::Impl::RebuildSideBySide(std::shared_ptr<Projection> next_version) {
  if (next_version == nullptr) return absl::InvalidArgumentError("next_version is null");
  absl::Status name_error;
  if (NameOf(next_version.get(), &name_error) != name_) {
    RETURN_IF_ERROR(name_error);
    return absl::InvalidArgumentError(
        StrCat("the next version of projection '", name_, "' must have the same name()"));
  }
  const uint32_t generation = generation_.load() + 1;
  ASSIGN_OR_RETURN(std::unique_ptr<Build> next, NewBuild(std::move(next_version), generation));
  RETURN_IF_ERROR(Wipe(generation, /*parked=*/false));  // Leftovers of an aborted attempt.
  const size_t batch_events = std::max(options_.batch_events, kRebuildBatchEvents);
  auto abandon = [&](absl::Status s) {
    Wipe(generation, false).IgnoreError();  // The status below is the one that matters.
    return absl::Status(s.code(),
                        StrCat("side-by-side rebuild of '", name_,
                               "' abandoned; the current version keeps running: ", s.message()));
  };
  // Build next to the running generation, without pausing it...
  for (;;) {
    if (stopping()) return abandon(absl::CancelledError("runner stopped"));
    absl::StatusOr<BatchResult> r = ApplyBatch(*next, batch_events);
    if (!r.ok()) return abandon(r.status());
    if (r->failed_position != 0) {
      return abandon(absl::Status(
          r->apply_error.code(),
          StrCat("event at position ", r->failed_position, " failed: ", r->apply_error.message())));
    }
    if (next->checkpoint + batch_events >= store_.last_position()) break;
  }
  // ...then pause it (between batches or group commits), apply the rest and
  // switch in one write.
  MutexLock lock(&apply_mu_);
  if (absl::Status s = CatchUpToEnd(*next, batch_events); !s.ok()) return abandon(s);
  const uint32_t old = build_->generation;
  rocksdb::WriteBatch batch;
  batch.Put(checkpoints_, projections_internal::ActiveGenerationKey(name_),
            EncodeGeneration(generation));
  const std::string prefix = GenerationPrefix(name_, old);
  batch.DeleteRange(read_models_, prefix, PrefixSuccessor(prefix));
  batch.Delete(checkpoints_, CheckpointKey(name_, old));
  const std::string parked = projections_internal::ParkedPrefix(name_);
  batch.DeleteRange(parked_, parked, PrefixSuccessor(parked));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (absl::Status s = internal::FromRocksDb(db_->Write(sync, &batch), "switching generations");
      !s.ok()) {
    return abandon(s);
  }
  build_ = std::move(next);
  inline_pending_ = build_->checkpoint;
  generation_.store(generation);
  Publish(build_->checkpoint);
  return absl::OkStatus();
}

}  // namespace annals
