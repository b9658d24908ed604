// ProjectionRunner: async batches with retries and dead letters, inline
// application through the committer's commit hook, rebuilds. Locking rules
// are in projections/internal/runner_impl.h.

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "annals/user_code.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;
using projections_internal::GenerationPrefix;
using projections_internal::PrefixSuccessor;
using user_code_internal::CallUserCode;
using user_code_internal::StatusFromCurrentException;

namespace {

// Projection::name(), with an exception recorded in `*error` (and an empty
// name returned) instead of leaving the constructor.
std::string NameOf(Projection* projection, absl::Status* error) {
  if (projection == nullptr) return {};
  absl::StatusOr<std::string> name = CallUserCode(
      "Projection::name()", [&]() -> absl::StatusOr<std::string> {
        return std::string(projection->name());
      });
  if (name.ok()) return *std::move(name);
  *error = name.status();
  return {};
}

// Longest wait on the store's commit notification before the async loop
// re-checks Stop() and its heartbeat; commits wake it at once.
constexpr absl::Duration kIdleWait = absl::Milliseconds(50);
// std::condition_variable waits take a bounded chrono duration.
std::chrono::nanoseconds ChronoWait(absl::Duration d) {
  return absl::ToChronoNanoseconds(std::min(d, absl::Hours(24 * 365)));
}

// Events per WriteBatch while rebuilding: larger batches, fewer writes.
constexpr size_t kRebuildBatchEvents = 8192;

// Projections running in this process, by store and name.
std::mutex registry_mu;
std::set<std::pair<const void*, std::string>>& Registry() {
  static auto* names = new std::set<std::pair<const void*, std::string>>();
  return *names;
}

uint32_t DecodeGeneration(std::string_view v) {
  return (uint32_t{static_cast<uint8_t>(v[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(v[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(v[2])} << 8) | uint32_t{static_cast<uint8_t>(v[3])};
}

std::string EncodeGeneration(uint32_t g) {
  std::string out;
  coding::PutBigEndian32(&out, g);
  return out;
}

}  // namespace

// --- helpers shared with projection_admin.cc ---

namespace projections_internal {

absl::StatusOr<RecordedEvent> ReadEventAt(EventStore& store, uint64_t position) {
  ReadAllOptions ro;
  ro.from_position = position;
  ro.limit = 1;
  ASSIGN_OR_RETURN(std::vector<RecordedEvent> events, store.ReadAll(ro));
  if (events.empty() || events.front().position != position) {
    return absl::NotFoundError(StrCat("no event at position ", position));
  }
  return std::move(events.front());
}

EventView ViewOf(const RecordedEvent& e) {
  EventView v;
  v.position = e.position;
  v.stream = e.stream;
  v.version = e.version;
  v.id = e.id;
  v.type = e.type;
  v.schema_version = e.schema_version;
  v.recorded_at_us = e.recorded_at_us;
  v.correlation_id = e.correlation_id;
  v.causation_id = e.causation_id;
  for (const auto& [k, val] : e.metadata) v.metadata.emplace_back(k, val);
  v.content_type = e.content_type;
  v.payload = e.payload;
  v.hash = e.hash;
  return v;
}

bool IsStalled(EventStore& store, uint64_t checkpoint, int64_t advanced_at_us,
               absl::Duration stall_after) {
  if (store.last_position() <= checkpoint) return false;
  // Behind since the later of: the last advance, the commit of the first
  // event not yet applied (an idle projection is not stalled the moment an
  // event arrives).
  int64_t behind_since = advanced_at_us;
  absl::StatusOr<RecordedEvent> next = ReadEventAt(store, checkpoint + 1);
  if (next.ok()) behind_since = std::max(behind_since, next->recorded_at_us);
  return NowMicros() - behind_since > absl::ToInt64Microseconds(stall_after);
}

absl::StatusOr<uint64_t> CountParked(EventStore& store, std::string_view name) {
  EventStore::Impl* impl = store.impl();
  uint64_t n = 0;
  RETURN_IF_ERROR(DbScan(impl->db(), impl->family(internal::kParkedFamily), nullptr,
                         ParkedPrefix(name), 0, [&](std::string_view, std::string_view) {
                           ++n;
                           return true;
                         }));
  return n;
}

}  // namespace projections_internal

// --- Build ---

bool ProjectionRunner::Impl::Build::Handles(const EventView& e) const {
  if (!types.empty() && std::find(types.begin(), types.end(), e.type) == types.end()) {
    return false;
  }
  return stream_prefix.empty() || e.stream.starts_with(stream_prefix);
}

// --- lifecycle ---

ProjectionRunner::Impl::Impl(EventStore& store, std::shared_ptr<Projection> projection,
                             const ProjectionOptions& options)
    : store_(store),
      simpl_(store.impl()),
      db_(simpl_->db()),
      read_models_(simpl_->family(internal::kReadModelsFamily)),
      checkpoints_(simpl_->family(internal::kCheckpointsFamily)),
      parked_(simpl_->family(internal::kParkedFamily)),
      options_(options),
      name_(NameOf(projection.get(), &init_error_)),
      apply_callback_(StrCat("projection '", name_, "' Apply()")),
      hook_(new InlineHook(this)) {
  // Read-model writes need not be synced: they commit atomically with the
  // checkpoint, so a lost unsynced tail only means re-applying from an older
  // checkpoint (WAL order keeps the surviving part a prefix).
  write_options_.sync = false;
  std::random_device rd;
  rng_.seed(options.jitter_seed != 0 ? options.jitter_seed : (uint64_t{rd()} << 32) ^ rd());
  if (projection == nullptr || !init_error_.ok()) return;
  std::lock_guard<std::mutex> lock(apply_mu_);
  absl::StatusOr<std::unique_ptr<Build>> build = NewBuild(std::move(projection), 1);
  if (build.ok()) {
    build_ = *std::move(build);
  } else {
    init_error_ = build.status();
  }
}

ProjectionRunner::Impl::~Impl() {
  Stop();  // Removes the hook; no group commit can call it after that.
  delete hook_;
  std::lock_guard<std::mutex> lock(registry_mu);
  if (registered_) Registry().erase({simpl_, name_});
}

absl::StatusOr<std::unique_ptr<ProjectionRunner::Impl::Build>> ProjectionRunner::Impl::NewBuild(
    std::shared_ptr<Projection> projection, uint32_t generation) {
  auto b = std::make_unique<Build>(db_, read_models_);
  RETURN_IF_ERROR(CallUserCode(StrCat("projection '", name_, "' event_types()"),
                               [&]() -> absl::Status {
                                 b->types = projection->event_types();
                                 return absl::OkStatus();
                               }));
  RETURN_IF_ERROR(CallUserCode(StrCat("projection '", name_, "' stream_prefix()"),
                               [&]() -> absl::Status {
                                 b->stream_prefix = projection->stream_prefix();
                                 return absl::OkStatus();
                               }));
  b->projection = std::move(projection);
  b->generation = generation;
  b->writer.SetNamespace(name_, generation);
  return b;
}

absl::Status ProjectionRunner::Impl::Init() {
  RETURN_IF_ERROR(init_error_);
  RETURN_IF_ERROR(projections_internal::ValidateName("projection", name_));
  if (options_.batch_events == 0 || options_.retry.max_attempts < 1 ||
      options_.retry.multiplier < 1.0 || options_.retry.jitter < 0 || options_.retry.jitter > 1) {
    return absl::InvalidArgumentError(
        "ProjectionOptions: batch_events must be > 0, retry.max_attempts >= 1, "
        "retry.multiplier >= 1 and retry.jitter in [0, 1]");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> gen,
                   projections_internal::DbGet(db_, checkpoints_, nullptr,
                                               projections_internal::ActiveGenerationKey(name_)));
  uint32_t generation = 1;
  if (gen.has_value()) {
    if (gen->size() != 4) return absl::DataLossError("malformed active-generation record");
    generation = DecodeGeneration(*gen);
  }
  ASSIGN_OR_RETURN(std::optional<std::string> cp,
                   projections_internal::DbGet(db_, checkpoints_, nullptr,
                                               CheckpointKey(name_, generation)));
  uint64_t checkpoint = 0;
  if (cp.has_value()) {
    if (cp->size() != 8) return absl::DataLossError("malformed checkpoint record");
    checkpoint = coding::DecodeBigEndian64(*cp);
  }
  std::lock_guard<std::mutex> lock(apply_mu_);
  ASSIGN_OR_RETURN(build_, NewBuild(build_->projection, generation));
  build_->checkpoint = checkpoint;
  checkpoint_.store(checkpoint);
  generation_.store(generation);
  std::lock_guard<std::mutex> state(state_mu_);
  published_ = checkpoint;
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::Claim() {
  std::lock_guard<std::mutex> lock(registry_mu);
  if (!Registry().insert({simpl_, name_}).second) {
    return absl::AlreadyExistsError(
        StrCat("projection '", name_, "' is already running on this store; stop it first"));
  }
  registered_ = true;
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::Start() {
  if (store_.read_only()) {
    return absl::FailedPreconditionError(
        "cannot run a projection on a read-only store; open it writable");
  }
  RETURN_IF_ERROR(Claim());
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    state_ = ProjectionState::kRunning;
    advanced_at_us_ = NowMicros();
  }
  if (options_.mode == ProjectionMode::kAsync) {
    WriteHealth();
    thread_ = std::thread([this] { AsyncLoop(); });
    return absl::OkStatus();
  }
  // Inline: catch up with what was committed before, then join the commit
  // path. Events committed in between are applied by the hook itself at the
  // next group commit (see InlineHook::OnEvent).
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    absl::Status s = CatchUpToEnd(*build_, options_.batch_events);
    if (!s.ok()) {
      std::lock_guard<std::mutex> state(state_mu_);
      state_ = ProjectionState::kFailed;
      error_ = std::string(s.message());
      return s;
    }
    hook_->pending = build_->checkpoint;
    simpl_->AddCommitHook(hook_);
    hook_attached_ = true;
  }
  WriteHealth();
  thread_ = std::thread([this] { HeartbeatLoop(); });
  return absl::OkStatus();
}

void ProjectionRunner::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stop_ = true;
  }
  state_cv_.notify_all();
  if (hook_attached_ && !hook_detached_) {
    simpl_->RemoveCommitHook(hook_);
    hook_->Detach();
    hook_detached_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      if (state_ != ProjectionState::kFailed) state_ = ProjectionState::kStopped;
    }
    WriteHealth();
  }
}

bool ProjectionRunner::Impl::stopping() {
  std::lock_guard<std::mutex> lock(state_mu_);
  return stop_;
}

bool ProjectionRunner::Impl::SleepUnlessStopped(absl::Duration d) {
  std::unique_lock<std::mutex> lock(state_mu_);
  state_cv_.wait_for(lock, ChronoWait(d), [this] { return stop_; });
  return !stop_;
}

void ProjectionRunner::Impl::Publish(uint64_t checkpoint) {
  checkpoint_.store(checkpoint, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (checkpoint != published_) advanced_at_us_ = NowMicros();
    published_ = checkpoint;
  }
  state_cv_.notify_all();
}

void ProjectionRunner::Impl::Fail(std::string error) {
  // Recorded before it is reported in memory, so that whoever WaitForPosition()
  // wakes reads the failure from the store too.
  projections_internal::Health h = CurrentHealth();
  h.state = ProjectionState::kFailed;
  h.error = error;
  PutHealth(h);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    state_ = ProjectionState::kFailed;
    error_ = std::move(error);
  }
  state_cv_.notify_all();
}

void ProjectionRunner::Impl::WriteHealth() { PutHealth(CurrentHealth()); }

projections_internal::Health ProjectionRunner::Impl::CurrentHealth() {
  projections_internal::Health h;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    heartbeat_us_ = NowMicros();
    h.state = state_;
    h.error = error_;
    h.advanced_at_us = advanced_at_us_;
    h.heartbeat_us = heartbeat_us_;
  }
  h.mode = options_.mode;
  h.stall_after_us = absl::ToInt64Microseconds(options_.stall_after);
  h.heartbeat_every_us = absl::ToInt64Microseconds(options_.heartbeat_every);
  return h;
}

void ProjectionRunner::Impl::PutHealth(const projections_internal::Health& h) {
  // Best effort: a lost heartbeat only makes the projection look stopped to
  // other processes until the next one.
  db_->Put(write_options_, checkpoints_, projections_internal::HealthKey(name_),
           projections_internal::EncodeHealth(h))
      .PermitUncheckedError();
}

// --- applying ---

absl::Status ProjectionRunner::Impl::CallApply(Build& b, const EventView& event) {
  return CallUserCode(apply_callback_, [&] { return b.projection->Apply(event, b.writer); });
}

absl::StatusOr<ProjectionRunner::Impl::BatchResult> ProjectionRunner::Impl::ApplyBatch(
    Build& b, size_t max_events) {
  BatchResult result;
  rocksdb::WriteBatch batch;
  b.writer.Clear();
  b.writer.Bind(&batch, /*immediate=*/false);
  uint64_t position = b.checkpoint;
  ReadAllOptions ro;
  ro.from_position = b.checkpoint + 1;
  absl::Status scan = store_.ScanAll(ro, [&](const EventView& e) {
    if (b.Handles(e)) {
      b.writer.set_tag(e.position);
      absl::Status s = CallApply(b, e);
      if (!s.ok()) {
        b.writer.UndoFrom(e.position);  // Its writes are only in the overlay.
        result.failed_position = e.position;
        result.apply_error = std::move(s);
        return false;
      }
    }
    position = e.position;
    ++result.scanned;
    return result.scanned < max_events && b.writer.bytes() < options_.batch_bytes;
  });
  if (scan.ok()) b.writer.Flush();
  b.writer.Bind(nullptr, false);
  b.writer.Clear();
  if (!scan.ok()) return scan;
  if (position > b.checkpoint) {
    batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
    RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                          StrCat("committing projection '", name_, "'")));
    b.checkpoint = position;
  }
  return result;
}

absl::Status ProjectionRunner::Impl::ApplyOne(Build& b, uint64_t position) {
  ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, position));
  const EventView view = projections_internal::ViewOf(event);
  rocksdb::WriteBatch batch;
  b.writer.Clear();
  b.writer.Bind(&batch, /*immediate=*/false);
  b.writer.set_tag(position);
  absl::Status s = b.Handles(view) ? CallApply(b, view) : absl::OkStatus();
  if (s.ok()) b.writer.Flush();
  b.writer.Bind(nullptr, false);
  b.writer.Clear();
  if (!s.ok()) return s;
  batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
  RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                        StrCat("committing projection '", name_, "'")));
  b.checkpoint = position;
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::Park(Build& b, uint64_t position, uint32_t attempts,
                                          std::string_view error) {
  ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, position));
  ParkedEvent p;
  p.position = position;
  p.stream = event.stream;
  p.version = event.version;
  p.type = event.type;
  p.attempts = attempts;
  p.error = std::string(error);
  p.parked_at_us = NowMicros();
  // The dead letter and the checkpoint that skips the event commit together.
  rocksdb::WriteBatch batch;
  batch.Put(parked_, projections_internal::ParkedKey(name_, position),
            projections_internal::EncodeParked(p));
  batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
  RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                        StrCat("parking an event of projection '", name_, "'")));
  b.checkpoint = position;
  return absl::OkStatus();
}

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

absl::Status ProjectionRunner::Impl::CatchUpToEnd(Build& b, size_t batch_events) {
  for (;;) {
    ASSIGN_OR_RETURN(BatchResult r, ApplyBatch(b, batch_events));
    if (&b == build_.get()) Publish(b.checkpoint);
    if (r.failed_position != 0) {
      return absl::Status(r.apply_error.code(),
                          StrCat("projection '", name_, "' failed at position ",
                                 r.failed_position, ": ", r.apply_error.message()));
    }
    if (r.scanned == 0) return absl::OkStatus();
  }
}

// --- async ---

void ProjectionRunner::Impl::AsyncLoop() {
  try {
    AsyncBatches();
  } catch (...) {
    // Apply()'s exceptions never get here (CallApply); this is anything
    // else, e.g. an allocation failure. Locks were released by unwinding.
    Fail(std::string(
        StatusFromCurrentException("the projection's background thread").message()));
  }
}

void ProjectionRunner::Impl::AsyncBatches() {
  absl::Time next_heartbeat = absl::Now() + options_.heartbeat_every;
  while (!stopping()) {
    if (absl::Now() >= next_heartbeat) {
      WriteHealth();
      next_heartbeat = absl::Now() + options_.heartbeat_every;
    }
    if (checkpoint_.load() >= store_.last_position()) {
      store_.WaitForPosition(checkpoint_.load() + 1, kIdleWait);
      continue;
    }
    absl::StatusOr<BatchResult> r;
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      r = ApplyBatch(*build_, options_.batch_events);
      Publish(build_->checkpoint);
    }
    if (!r.ok()) {
      Fail(StrCat("reading or committing failed: ", r.status().message()));
      return;
    }
    if (r->failed_position != 0 && !HandleFailure(r->failed_position, r->apply_error)) return;
  }
}

bool ProjectionRunner::Impl::HandleFailure(uint64_t position, absl::Status error) {
  const RetryOptions& retry = options_.retry;
  absl::Duration backoff = retry.initial_backoff;
  int attempts = 1;
  while (attempts < retry.max_attempts) {
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      error_ = StrCat("retrying event at position ", position, " (attempt ", attempts + 1, " of ",
                      retry.max_attempts, ") after: ", error.message());
    }
    std::uniform_real_distribution<double> jitter(1.0 - retry.jitter, 1.0 + retry.jitter);
    if (!SleepUnlessStopped(backoff * jitter(rng_))) return false;
    backoff = std::min(backoff * retry.multiplier, retry.max_backoff);
    ++attempts;
    std::lock_guard<std::mutex> lock(apply_mu_);
    if (build_->checkpoint + 1 != position) return true;  // Rebuilt or replayed meanwhile.
    absl::Status s = ApplyOne(*build_, position);
    if (s.ok()) {
      Publish(build_->checkpoint);
      std::lock_guard<std::mutex> state(state_mu_);
      error_.clear();
      return true;
    }
    error = std::move(s);
  }
  std::lock_guard<std::mutex> lock(apply_mu_);
  if (build_->checkpoint + 1 != position) return true;
  if (options_.on_failure == FailurePolicy::kPark) {
    absl::Status s = Park(*build_, position, static_cast<uint32_t>(attempts), StdSv(error.message()));
    if (!s.ok()) {
      Fail(StrCat("parking the event at position ", position, " failed: ", s.message()));
      return false;
    }
    Publish(build_->checkpoint);
    std::lock_guard<std::mutex> state(state_mu_);
    error_.clear();
    return true;
  }
  std::string description;
  if (absl::StatusOr<RecordedEvent> e = projections_internal::ReadEventAt(store_, position);
      e.ok()) {
    description = StrCat(" (", e->type, ", ", e->stream, " v", e->version, ")");
  }
  Fail(StrCat("event at position ", position, description, " failed after ", attempts,
              " attempts: ", error.message(),
              "; fix the projection and restart it, or run it with FailurePolicy::kPark"));
  return false;
}

// --- inline ---

void ProjectionRunner::Impl::HeartbeatLoop() {
  try {
    while (SleepUnlessStopped(options_.heartbeat_every)) WriteHealth();
  } catch (...) {
    // Only an allocation failure can get here; a missing heartbeat makes the
    // projection look stopped to other processes, which is better than
    // terminating this one.
    StatusFromCurrentException("the projection's heartbeat thread").IgnoreError();
  }
}

void ProjectionRunner::Impl::NoteInlineFailure(const absl::Status& s) {
  std::lock_guard<std::mutex> lock(state_mu_);
  error_ = StrCat("an append failed because the projection failed: ", s.message());
}

absl::Status ProjectionRunner::Impl::InlineHook::ApplyInline(const EventView& event,
                                                             rocksdb::WriteBatch& batch)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Build& b = *impl_->build_;
  if (b.Handles(event)) {
    b.writer.set_tag(event.position);
    RETURN_IF_ERROR(impl_->CallApply(b, event));
  }
  pending = event.position;
  batch.Put(impl_->checkpoints_, CheckpointKey(impl_->name_, b.generation),
            coding::BigEndian64(pending));
  return absl::OkStatus();
}

void ProjectionRunner::Impl::InlineHook::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  impl_ = nullptr;
}

absl::Status ProjectionRunner::Impl::InlineHook::OnEvent(const EventView& event,
                                                         rocksdb::WriteBatch& batch) {
  absl::Status s;
  try {
    s = OnEventUnguarded(event, batch);
  } catch (...) {
    // Not Apply() (CallApply catches those): our own code ran out of memory
    // or similar. The locks taken for the group stay held until
    // OnGroupDone(), which the committer calls whatever this returns.
    s = StatusFromCurrentException("the inline projection's commit hook");
  }
  if (!s.ok() && locked_ && impl_ != nullptr) impl_->NoteInlineFailure(s);
  return s;
}

absl::Status ProjectionRunner::Impl::InlineHook::OnEventUnguarded(const EventView& event,
                                                                  rocksdb::WriteBatch& batch)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!locked_) {
    // Held until OnGroupDone(): rebuilds and take-overs wait for the group.
    mu_.lock();
    locked_ = true;
    if (impl_ != nullptr) impl_->apply_mu_.lock();
  }
  if (impl_ == nullptr) return absl::OkStatus();  // Detached.
  Build& b = *impl_->build_;
  b.writer.Bind(&batch, /*immediate=*/true);
  if (rollback_pending_) {
    // The last append was rolled back; its events are re-staged from here.
    b.writer.UndoFrom(event.position);
    pending = event.position - 1;
    rollback_pending_ = false;
  }
  if (pending + 1 < event.position) {
    // Events committed between the catch-up in Start() (or a take-over) and
    // the hook's first group: apply them from the log, in this batch.
    ReadAllOptions ro;
    ro.from_position = pending + 1;
    absl::Status apply;
    RETURN_IF_ERROR(impl_->store_.ScanAll(ro, [&](const EventView& e) {
      if (e.position >= event.position) return false;
      apply = ApplyInline(e, batch);
      return apply.ok();
    }));
    RETURN_IF_ERROR(apply);
  }
  return ApplyInline(event, batch);
}

void ProjectionRunner::Impl::InlineHook::OnGroupDone(bool written)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!locked_) return;
  if (impl_ != nullptr) {
    Build& b = *impl_->build_;
    if (written) {
      if (rollback_pending_) {
        // The group's last append was rolled back after our last OnEvent():
        // the checkpoint is the last position actually written.
        std::unique_ptr<rocksdb::Iterator> it(impl_->db_->NewIterator(
            rocksdb::ReadOptions(), impl_->simpl_->family(internal::kLogFamily)));
        it->SeekToLast();
        if (it->Valid() && it->key().size() == 8) {
          pending = coding::DecodeBigEndian64(std::string_view(it->key().data(), 8));
        }
        // An iterator error leaves `pending` too high; only the reported lag
        // is affected, until the next group.
        it->status().PermitUncheckedError();
      }
      b.checkpoint = pending;
      impl_->Publish(pending);
    } else {
      pending = b.checkpoint;
    }
    b.writer.Bind(nullptr, true);
    b.writer.Clear();
    impl_->apply_mu_.unlock();
  }
  rollback_pending_ = false;
  locked_ = false;
  mu_.unlock();
}

// --- status, parking, rebuilds ---

ProjectionStatus ProjectionRunner::Impl::status() {
  ProjectionStatus st;
  st.name = name_;
  st.mode = options_.mode;
  st.position = checkpoint_.load(std::memory_order_acquire);
  st.generation = generation_.load();
  st.last_position = store_.last_position();
  st.lag = st.last_position > st.position ? st.last_position - st.position : 0;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    st.state = state_;
    st.error = error_;
    st.advanced_at_us = advanced_at_us_;
    st.heartbeat_us = heartbeat_us_;
  }
  if (absl::StatusOr<uint64_t> n = projections_internal::CountParked(store_, name_); n.ok()) {
    st.parked = *n;
  }
  if (st.state == ProjectionState::kRunning &&
      projections_internal::IsStalled(store_, st.position, st.advanced_at_us,
                                      options_.stall_after)) {
    st.state = ProjectionState::kStalled;
  }
  return st;
}

bool ProjectionRunner::Impl::WaitForPosition(uint64_t position, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(state_mu_);
  state_cv_.wait_for(lock, ChronoWait(timeout), [this, position] {
    return published_ >= position || state_ != ProjectionState::kRunning || stop_;
  });
  return published_ >= position;
}

absl::StatusOr<std::vector<ParkedEvent>> ProjectionRunner::Impl::ListParked() {
  return ListParkedEvents(store_, name_);
}

absl::Status ProjectionRunner::Impl::ReplayParked(uint64_t position) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  ASSIGN_OR_RETURN(std::vector<ParkedEvent> parked, ListParkedEvents(store_, name_));
  bool found = false;
  for (ParkedEvent& p : parked) {
    if (position != 0 && p.position != position) continue;
    found = true;
    ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, p.position));
    const EventView view = projections_internal::ViewOf(event);
    Build& b = *build_;
    rocksdb::WriteBatch batch;
    b.writer.Clear();
    b.writer.Bind(&batch, /*immediate=*/false);
    b.writer.set_tag(p.position);
    absl::Status s = CallApply(b, view);
    if (s.ok()) b.writer.Flush();
    b.writer.Bind(nullptr, false);
    b.writer.Clear();
    if (s.ok()) {
      // The effect and the removal of the dead letter commit together.
      batch.Delete(parked_, projections_internal::ParkedKey(name_, p.position));
    } else {
      batch.Clear();
      ++p.attempts;
      p.error = std::string(s.message());
      batch.Put(parked_, projections_internal::ParkedKey(name_, p.position),
                projections_internal::EncodeParked(p));
    }
    RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                          "committing a replayed parked event"));
    if (!s.ok()) {
      return absl::Status(s.code(), StrCat("replaying parked event at position ", p.position,
                                           " failed again (it stays parked): ", s.message()));
    }
  }
  if (!found) {
    return absl::NotFoundError(position == 0
                                   ? StrCat("projection '", name_, "' has no parked events")
                                   : StrCat("projection '", name_,
                                            "' has no parked event at position ", position));
  }
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::Rebuild() {
  std::lock_guard<std::mutex> lock(apply_mu_);
  RETURN_IF_ERROR(Wipe(build_->generation, /*parked=*/true));
  build_->checkpoint = 0;
  build_->writer.Clear();
  hook_->pending = 0;
  Publish(0);
  absl::Status s = CatchUpToEnd(*build_, std::max(options_.batch_events, kRebuildBatchEvents));
  hook_->pending = build_->checkpoint;
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
    return absl::Status(s.code(), StrCat("side-by-side rebuild of '", name_,
                                         "' abandoned; the current version keeps running: ",
                                         s.message()));
  };
  // Build next to the running generation, without pausing it...
  for (;;) {
    if (stopping()) return abandon(absl::CancelledError("runner stopped"));
    absl::StatusOr<BatchResult> r = ApplyBatch(*next, batch_events);
    if (!r.ok()) return abandon(r.status());
    if (r->failed_position != 0) {
      return abandon(absl::Status(r->apply_error.code(),
                                  StrCat("event at position ", r->failed_position, " failed: ",
                                         r->apply_error.message())));
    }
    if (next->checkpoint + batch_events >= store_.last_position()) break;
  }
  // ...then pause it (between batches or group commits), apply the rest and
  // switch in one write.
  std::lock_guard<std::mutex> lock(apply_mu_);
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
  hook_->pending = build_->checkpoint;
  generation_.store(generation);
  Publish(build_->checkpoint);
  return absl::OkStatus();
}

// --- ProjectionRunner: the public face ---

absl::StatusOr<std::unique_ptr<ProjectionRunner>> ProjectionRunner::Start(
    EventStore& store, std::shared_ptr<Projection> projection, const ProjectionOptions& options) {
  if (projection == nullptr) return absl::InvalidArgumentError("projection is null");
  auto impl = std::make_unique<Impl>(store, std::move(projection), options);
  RETURN_IF_ERROR(impl->Init());
  RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<ProjectionRunner>(new ProjectionRunner(std::move(impl)));
}

ProjectionRunner::ProjectionRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionRunner::~ProjectionRunner() = default;
void ProjectionRunner::Stop() { impl_->Stop(); }
ProjectionStatus ProjectionRunner::status() const { return impl_->status(); }
bool ProjectionRunner::WaitForPosition(uint64_t position, absl::Duration timeout) {
  return impl_->WaitForPosition(position, timeout);
}
absl::StatusOr<std::vector<ParkedEvent>> ProjectionRunner::ListParked() {
  return impl_->ListParked();
}
absl::Status ProjectionRunner::ReplayParked(uint64_t position) {
  return impl_->ReplayParked(position);
}
absl::Status ProjectionRunner::Rebuild() { return impl_->Rebuild(); }
absl::Status ProjectionRunner::RebuildSideBySide(std::shared_ptr<Projection> next_version) {
  return impl_->RebuildSideBySide(std::move(next_version));
}

}  // namespace annals
