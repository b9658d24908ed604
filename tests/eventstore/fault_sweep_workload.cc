// The sweep workload of fault_child (see fault_child.cc): one scripted run
// with one failing file-system operation, then a power loss, a reopen without
// faults and the checks. Output lines, for io_fault_sweep_test:
//   FIRED <0|1> <where the fault fired>
//   ERROR <step> <status>        every non-OK result of a workload call
//   FAIL <what>                  a broken guarantee
//   OPS <op> <count> ...         operation counts of the run (k = 0)

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/read_model.h"
#include "annals/snapshot_store.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/store_access.h"
#include "eventstore/internal/test_hooks.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "tests/common/fault_injection_fs.h"
#include "tests/eventstore/fault_workloads.h"
#include "tests/projections/test_projections.h"

namespace annals::testing {
namespace {

struct Acked {
  std::string stream;
  uint64_t version;
  Uuid id;
};

class Sweep {
 public:
  Sweep(std::string dir, std::shared_ptr<FaultInjectionFs> fs)
      : dir_(std::move(dir)), path_(dir_ + "/store"), fs_(std::move(fs)) {}

  void Run() {
    Open("open-create");
    Append("append-single-1", {"a"}, 2);
    Append("append-single-2", {"b"}, 1);
    Append("append-multi-1", {"a", "b", "c"}, 2);
    Append("append-single-3", {"c"}, 3);
    Flush("flush");
    Append("append-multi-2", {"a", "d"}, 1);
    Close();
    Open("reopen");
    Read("read-stream", "a");
    Read("read-all", "");
    Projection("projection-checkpoint");
    Snapshot("snapshot");
    Append("append-after-1", {"e"}, 2);
    Append("append-after-multi", {"e", "a"}, 1);
    Close();
  }

  // After the run: power loss, reopen without faults, check.
  void Check() {
    PowerLossReport report = fs_->SimulatePowerLoss(PowerLossModel::kDropUnsynced, 1);
    for (const std::string& e : report.errors) Fail("power-loss simulation: " + e);
    fs_->FailNth(FsOp::kWrite, 0);
    Options options;
    options.low_priority_compaction = false;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path_, options);
    if (!store.ok()) {
      if (acked_.empty() && absl::IsNotFound(store.status())) return;
      Fail(absl::StrCat("reopen without faults failed with ", acked_.size(),
                        " events acknowledged: ", store.status().ToString()));
      return;
    }
    absl::StatusOr<VerifyReport> verify = (*store)->Verify();
    if (!verify.ok()) {
      Fail("verify could not run: " + verify.status().ToString());
    } else if (!verify->ok) {
      Fail(absl::StrCat("verify: ", verify->reason, " at ", verify->first_bad_position));
    }
    for (const auto& [position, a] : acked_) {
      ReadAllOptions o;
      o.from_position = position;
      o.limit = 1;
      absl::StatusOr<std::vector<RecordedEvent>> e = (*store)->ReadAll(o);
      if (!e.ok() || e->empty() || e->front().position != position || e->front().id != a.id ||
          e->front().stream != a.stream || e->front().version != a.version) {
        Fail(absl::StrCat("acknowledged event at position ", position, " (", a.stream, " v",
                          a.version, ") lost or changed",
                          e.ok() ? "" : ": " + e.status().ToString()));
      }
    }
    NewEvent ev{.type = kTickType, .payload = "{}"};
    absl::StatusOr<AppendResult> r = (*store)->Append("after-reopen", ExpectedVersion::Any(), {ev});
    if (!r.ok()) Fail("append after reopen refused: " + r.status().ToString());
  }

  void Fail(const std::string& what) {
    std::printf("FAIL %s\n", what.c_str());
    failed_ = true;
  }
  bool failed() const { return failed_; }

 private:
  void Error(const std::string& step, const absl::Status& s) {
    std::printf("ERROR %s %s\n", step.c_str(), s.ToString().c_str());
  }

  void Open(const std::string& step) {
    Options options;
    options.low_priority_compaction = false;
    // Small memtables, so that appends also flush in the background.
    options.write_buffer_bytes = 64 << 10;
    for (int attempt = 0; attempt < 2 && store_ == nullptr; ++attempt) {
      absl::StatusOr<std::unique_ptr<EventStore>> s = EventStore::Open(path_, options);
      if (s.ok()) {
        store_ = std::move(*s);
        write_failed_ = false;
      } else {
        // The fault fires once: a second open must work.
        Error(step, s.status());
      }
    }
    if (store_ == nullptr) Fail(step + ": the store cannot be opened after a one-time fault");
  }

  void Close() { store_.reset(); }

  void Append(const std::string& step, const std::vector<std::string>& streams, int per_stream) {
    if (store_ == nullptr) return;
    std::vector<std::vector<NewEvent>> events(streams.size());
    std::vector<StreamAppend> parts;
    const std::string payload(6000, 'p');
    for (size_t s = 0; s < streams.size(); ++s) {
      for (int i = 0; i < per_stream; ++i) {
        events[s].push_back(NewEvent{.id = Uuid::V7(), .type = kTickType, .payload = payload});
      }
      parts.push_back(StreamAppend{.stream = streams[s], .events = events[s]});
    }
    absl::StatusOr<std::vector<AppendResult>> r = store_->AppendMulti(parts);
    if (r.ok()) {
      if (write_failed_) {
        Fail(step + ": an append was accepted after a failed one, before reopening");
      }
      for (size_t s = 0; s < parts.size(); ++s) {
        for (int i = 0; i < per_stream; ++i) {
          acked_[(*r)[s].first_position + i] =
              Acked{streams[s], (*r)[s].first_version + i, events[s][i].id};
        }
      }
      return;
    }
    Error(step, r.status());
    if (write_failed_ && !absl::IsFailedPrecondition(r.status())) {
      Fail(step +
           ": an append after a failed one is not kFailedPrecondition: " + r.status().ToString());
    }
    write_failed_ = true;
  }

  void Flush(const std::string& step) {
    if (store_ == nullptr) return;
    rocksdb::DB* db = internal::StoreAccess::Db(*store_);
    for (rocksdb::ColumnFamilyHandle* family : internal::StoreAccess::AllFamilies(*store_)) {
      rocksdb::Status s = db->Flush(rocksdb::FlushOptions(), family);
      if (!s.ok()) {
        Error(step, absl::InternalError(s.ToString()));
        break;
      }
    }
  }

  void Read(const std::string& step, const std::string& stream) {
    if (store_ == nullptr) return;
    if (stream.empty()) {
      absl::StatusOr<std::vector<RecordedEvent>> all = store_->ReadAll();
      if (!all.ok()) Error(step, all.status());
      return;
    }
    absl::StatusOr<std::vector<RecordedEvent>> events = store_->ReadStream(stream);
    if (!events.ok()) Error(step, events.status());
  }

  void Projection(const std::string& step) {
    if (store_ == nullptr) return;
    ProjectionOptions po;
    po.retry.max_attempts = 1;
    auto projection = std::make_shared<CounterProjection>(std::string(kProjectionName));
    absl::StatusOr<std::unique_ptr<ProjectionRunner>> runner =
        ProjectionRunner::Start(*store_, projection, po);
    if (!runner.ok()) {
      Error(step, runner.status());
      return;
    }
    if (!(*runner)->WaitForPosition(store_->last_position(), absl::Seconds(10))) {
      const ProjectionStatus status = (*runner)->status();
      Error(step, absl::InternalError(absl::StrCat(
                      "projection did not reach ", store_->last_position(), ": state ",
                      std::string(ProjectionStateName(status.state)), " ", status.error)));
    }
    (*runner)->Stop();
  }

  void Snapshot(const std::string& step) {
    if (store_ == nullptr) return;
    SnapshotStore snapshots(*store_);
    absl::Status s = snapshots.Put(
        annals::Snapshot{.stream = "a", .version = 1, .fingerprint = "f", .state = "state"}, 2);
    if (!s.ok()) Error(step, s);
  }

  const std::string dir_;
  const std::string path_;
  std::shared_ptr<FaultInjectionFs> fs_;
  std::unique_ptr<EventStore> store_;
  bool write_failed_ = false;
  bool failed_ = false;
  std::map<uint64_t, Acked> acked_;
};

FsOp ParseOp(const std::string& name) {
  for (int i = 0; i < kFsOpCount; ++i) {
    if (FsOpName(static_cast<FsOp>(i)) == name) return static_cast<FsOp>(i);
  }
  std::fprintf(stderr, "fault_child: unknown op %s\n", name.c_str());
  _exit(kChildError);
}

}  // namespace

int SweepMain(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: fault_child sweep <op> <k> <dir>\n");
    return kChildError;
  }
  const FsOp op = ParseOp(argv[2]);
  const uint64_t k = std::strtoull(argv[3], nullptr, 10);
  const std::string dir = argv[4];
  auto fs = std::make_shared<FaultInjectionFs>(dir + "/graveyard");
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  internal::SetEnvForTesting(env.get());
  fs->FailNth(op, k);
  Sweep sweep(dir, fs);
  sweep.Run();
  std::printf("FIRED %d %s\n", fs->fault_fired() ? 1 : 0, fs->fault_description().c_str());
  if (k == 0) {
    std::printf("OPS");
    for (int i = 0; i < kFsOpCount; ++i) {
      std::printf(" %s %llu", std::string(FsOpName(static_cast<FsOp>(i))).c_str(),
                  static_cast<unsigned long long>(fs->count(static_cast<FsOp>(i))));
    }
    std::printf("\n");
  }
  sweep.Check();
  std::fflush(stdout);
  return sweep.failed() ? 1 : 0;
}

}  // namespace annals::testing
