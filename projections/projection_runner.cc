// ProjectionRunner, the core: the public face (ProjectionRunner's methods, each
// forwarding to its Impl), and the lifecycle of ProjectionRunner::Impl:
// construction, loading the active generation and its checkpoint (Init), the
// one-runner-per-name claim, Start() in either mode, Stop().
//
// The rest of ProjectionRunner::Impl is split by concern into
// projection_runner_{apply,async,inline,rebuild,parked,status}.cc, the way
// RocksDB splits db/db_impl/; projections/internal/runner_impl.h says which
// file holds what, and the locking rules all of them follow.

#include <algorithm>
#include <set>

#include "annals/user_code.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "projections/internal/families.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;
using projections_internal::DecodeGeneration;
using projections_internal::NameOf;
using user_code_internal::CallUserCode;

namespace {

// Projections running in this process, by store and name.
Mutex registry_mu;
std::set<std::pair<const void*, std::string>>& Registry()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mu) {
  static auto* names = new std::set<std::pair<const void*, std::string>>();
  return *names;
}

}  // namespace

namespace projections_internal {

std::string NameOf(Projection* projection, absl::Status* error) {
  if (projection == nullptr) return {};
  absl::StatusOr<std::string> name = CallUserCode(
      "Projection::name()",
      [&]() -> absl::StatusOr<std::string> { return std::string(projection->name()); });
  if (name.ok()) return *std::move(name);
  *error = name.status();
  return {};
}

}  // namespace projections_internal

bool ProjectionRunner::Impl::Build::Handles(const EventView& e) const {
  if (!types.empty() && std::find(types.begin(), types.end(), e.type) == types.end()) {
    return false;
  }
  return stream_prefix.empty() || e.stream.starts_with(stream_prefix);
}

ProjectionRunner::Impl::Impl(EventStore& store, std::shared_ptr<Projection> projection,
                             const ProjectionOptions& options)
    : store_(store),
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
  absl::StatusOr<projections_internal::ProjectionFamilies> families =
      projections_internal::GetFamilies(store_);
  if (!families.ok()) {
    init_error_ = families.status();
    return;
  }
  db_ = families->db;
  read_models_ = families->read_models;
  checkpoints_ = families->checkpoints;
  parked_ = families->parked;
  MutexLock lock(&apply_mu_);
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
  MutexLock lock(&registry_mu);
  if (registered_) Registry().erase({&store_, name_});
}

absl::StatusOr<std::unique_ptr<ProjectionRunner::Impl::Build>> ProjectionRunner::Impl::NewBuild(
    std::shared_ptr<Projection> projection, uint32_t generation) {
  auto b = std::make_unique<Build>(db_, read_models_);
  RETURN_IF_ERROR(
      CallUserCode(StrCat("projection '", name_, "' event_types()"), [&]() -> absl::Status {
        b->types = projection->event_types();
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(
      CallUserCode(StrCat("projection '", name_, "' stream_prefix()"), [&]() -> absl::Status {
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
  ASSIGN_OR_RETURN(
      std::optional<std::string> cp,
      projections_internal::DbGet(db_, checkpoints_, nullptr, CheckpointKey(name_, generation)));
  uint64_t checkpoint = 0;
  if (cp.has_value()) {
    if (cp->size() != 8) return absl::DataLossError("malformed checkpoint record");
    checkpoint = coding::DecodeBigEndian64(*cp);
  }
  MutexLock lock(&apply_mu_);
  ASSIGN_OR_RETURN(build_, NewBuild(build_->projection, generation));
  build_->checkpoint = checkpoint;
  checkpoint_.store(checkpoint);
  generation_.store(generation);
  MutexLock state(&state_mu_);
  published_ = checkpoint;
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::Claim() {
  MutexLock lock(&registry_mu);
  if (!Registry().insert({&store_, name_}).second) {
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
    MutexLock lock(&state_mu_);
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
    MutexLock lock(&apply_mu_);
    absl::Status s = CatchUpToEnd(*build_, options_.batch_events);
    if (!s.ok()) {
      MutexLock state(&state_mu_);
      state_ = ProjectionState::kFailed;
      error_ = std::string(s.message());
      return s;
    }
    inline_pending_ = build_->checkpoint;
    internal::StoreAccess::AddCommitHook(store_, hook_);
    hook_attached_ = true;
  }
  WriteHealth();
  thread_ = std::thread([this] { HeartbeatLoop(); });
  return absl::OkStatus();
}

void ProjectionRunner::Impl::Stop() {
  // Serializes concurrent Stop()s: one detaches and joins, the others wait
  // for it and find nothing left to do.
  MutexLock stop_lock(&stop_mu_);
  {
    MutexLock lock(&state_mu_);
    stop_ = true;
  }
  state_cv_.NotifyAll();
  if (hook_attached_ && !hook_detached_) {
    internal::StoreAccess::RemoveCommitHook(store_, hook_);
    hook_->Detach();
    hook_detached_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    {
      MutexLock lock(&state_mu_);
      if (state_ != ProjectionState::kFailed) state_ = ProjectionState::kStopped;
    }
    WriteHealth();
  }
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
