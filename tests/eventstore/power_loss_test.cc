// Power-loss simulation: a child process (fault_child, fork + exec) runs a
// workload on a FaultInjectionFs that cuts the power before its n-th mutating
// file-system operation, leaving on disk only what was durable (unsynced file
// bytes dropped or torn, undurable creates/renames/deletes undone; the model
// is described in tests/common/fault_injection_fs.h). This test then opens
// the surviving store with the real file system and checks: every
// acknowledged event is there, no append is partly stored, Verify() is ok,
// projections are exactly-once (read model = its checkpoint's prefix, and a
// resumed projection ends equal to a full replay), snapshots agree with a
// replay, an acknowledged import is complete.
//
// Scenarios: store creation, kSync single- and multi-stream appends from
// several threads, an inline and an async projection, aggregate snapshots
// (Repository, snapshot_every), CLI import. Each is run once uncut to count
// its operations, then cut at seeded points.
//
// Environment: ANNALS_TEST_SEED replays a run; ANNALS_SOAK=1 runs 10x the
// cuts; ANNALS_POWER_CUTS=<n> sets the number; ANNALS_POWER_CUT=
// <scenario>:<cut_at>:<model> runs one cut (printed with every failure);
// ANNALS_POWER_BUFFERED=1 makes the children append with Durability::kBuffered
// (the test must then fail: that is what it is for).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "annals/cli.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/read_model.h"
#include "annals/repository.h"
#include "annals/snapshot_store.h"
#include "common/coding.h"
#include "eventstore/internal/test_hooks.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "tests/aggregates/account.h"
#include "tests/common/cli_runner.h"
#include "tests/common/fault_injection_fs.h"
#include "tests/common/files.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"
#include "tests/eventstore/fault_workloads.h"
#include "tests/projections/test_projections.h"

namespace annals::testing {
namespace {

namespace fs = std::filesystem;

struct AckedEvent {
  std::string group;
  size_t n = 0;
  std::string stream;
  uint64_t version = 0;
  uint64_t position = 0;
  std::string id;
};

struct Acks {
  std::vector<AckedEvent> events;
  std::map<std::string, uint64_t> versions;  // repository saves: stream -> version
  bool import_done = false;
  bool empty() const { return events.empty() && versions.empty() && !import_done; }
};

// The acknowledgements among the first `limit` bytes of the ack file.
Acks ReadAcks(const std::string& path, uint64_t limit) {
  Acks acks;
  for (const std::string& line : SplitLines(ReadFile(path).substr(0, limit))) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] == "E" && f.size() == 7) {
      AckedEvent e;
      e.group = f[1];
      e.n = std::stoul(f[2]);
      e.stream = f[3];
      e.version = std::stoull(f[4]);
      e.position = std::stoull(f[5]);
      e.id = f[6];
      acks.events.push_back(e);
    } else if (f[0] == "V" && f.size() == 3) {
      uint64_t& v = acks.versions[f[1]];
      v = std::max<uint64_t>(v, std::stoull(f[2]));
    } else if (f[0] == "I") {
      acks.import_done = true;
    } else {
      ADD_FAILURE() << "bad ack line: " << line;
    }
  }
  return acks;
}

// A field of the appenders' JSON payload: "g" (string) or "n" (number).
std::string PayloadField(std::string_view payload, std::string_view key) {
  const std::string needle = absl::StrCat("\"", std::string(key), "\":");
  size_t at = payload.find(needle);
  if (at == std::string_view::npos) return "";
  at += needle.size();
  if (payload[at] == '"') {
    const size_t end = payload.find('"', at + 1);
    return std::string(payload.substr(at + 1, end - at - 1));
  }
  size_t end = at;
  while (end < payload.size() && payload[end] >= '0' && payload[end] <= '9') ++end;
  return std::string(payload.substr(at, end - at));
}

// One child run: a scenario with power cuts before the mutating operations
// numbered `cuts` (and one after the workload).
struct ChildRun {
  std::string scenario;
  std::vector<uint64_t> cuts;
  int model = 0;
  uint64_t seed = 0;
  std::string Describe(size_t cut) const {
    const std::string at = cut < cuts.size() ? absl::StrCat(cuts[cut]) : "end";
    return absl::StrCat(scenario, " cut before op ", at, " model ", model,
                        " (replay: ANNALS_POWER_CUT=", scenario, ":",
                        cut < cuts.size() ? cuts[cut] : 0, ":", model, " ANNALS_TEST_SEED=", seed,
                        "; multi-threaded scenarios number their operations a little "
                        "differently from run to run)");
  }
};

struct Figures {
  std::map<std::string, int> cuts;
  int in_creation = 0;
  int at_end = 0;
  int no_store = 0;
  int import_partial = 0;
  int import_absent = 0;
  int import_complete = 0;
  uint64_t acked_events = 0;
};

class PowerLossTest : public ::testing::Test {
 protected:
  void TearDown() override { internal::SetEnvForTesting(nullptr); }

  void SetUp() override {
    seed_ = TestSeed();
    // The checks open the surviving stores through a FileSystem that reads
    // the disk as it is and skips fsyncs (they cost ~7 ms each here and
    // prove nothing about the store under test).
    fs_ = std::make_shared<FaultInjectionFs>(dir_.Sub("graveyard"));
    env_ = rocksdb::NewCompositeEnv(fs_);
    internal::SetEnvForTesting(env_.get());
    buffered_ = std::getenv("ANNALS_POWER_BUFFERED") != nullptr;
    export_file_ = dir_.Sub("export.jsonl");
    MakeExport();
  }

  // The import scenario's input: an export of a 300-event store.
  void MakeExport() {
    const std::string source = dir_.Sub("source");
    {
      std::unique_ptr<EventStore> store = OpenBufferedStore(source);
      ASSERT_NE(store, nullptr);
      for (int i = 0; i < 60; ++i) {
        std::vector<NewEvent> events(5, NewEvent{.type = "Imported", .payload = R"({"x":1})"});
        ASSERT_TRUE(
            store->Append(absl::StrCat("imp-", i % 7), ExpectedVersion::Any(), events).ok());
      }
      absl::StatusOr<std::vector<RecordedEvent>> all = store->ReadAll();
      ASSERT_TRUE(all.ok());
      source_events_ = std::move(*all);
    }
    const CliRun exported = RunCliInProcess(CliOptions{}, {"export", source});
    ASSERT_EQ(exported.code, 0) << exported.err;
    WriteFile(export_file_, exported.out);
  }

  // Runs a child, whose stdout and stderr are this test's.
  ProcessResult RunChild(const ChildRun& r, const std::string& run_dir) {
    return RunProgram(
        {ANNALS_FAULT_CHILD, "powerloss", r.scenario, run_dir, absl::StrJoin(r.cuts, ","),
         std::to_string(r.seed), std::to_string(r.model), buffered_ ? "1" : "0", export_file_},
        run_dir + "-child", ProcessOptions{.stdout_fd = 1, .capture_stderr = false});
  }

  // Runs a child and checks every cut it left; returns the number of failed
  // cuts. `ops` receives the child's operation counts (all, store creation).
  int RunAndCheck(const ChildRun& r, int index, std::pair<uint64_t, uint64_t>* ops = nullptr) {
    const std::string run_dir = dir_.Sub(absl::StrCat("run", index));
    fs::create_directories(run_dir);
    const ProcessResult child = RunChild(r, run_dir);
    if (!child.exited || child.exit_code != kCutExit) {
      ADD_FAILURE() << r.Describe(0)
                    << ": child did not end at its last power cut: " << child.Describe()
                    << " (see its stderr above)";
      return 1;
    }
    if (std::ifstream ops_in(run_dir + "/ops"); ops_in && ops != nullptr) {
      ops_in >> ops->first >> ops->second;
    }
    int failed = 0;
    for (size_t i = 0;; ++i) {
      const std::string cut_dir = absl::StrCat(run_dir, "/cut-", i);
      if (!fs::exists(cut_dir)) break;
      SCOPED_TRACE(absl::StrCat("run ", index, " cut ", i, ": ", r.Describe(i)));
      uint64_t ack_bytes = 0;
      std::ifstream(cut_dir + ".acks") >> ack_bytes;
      ++figures_.cuts[r.scenario];
      if (i >= r.cuts.size()) ++figures_.at_end;
      const int parts_before =
          ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
      Check(r.scenario, cut_dir, ReadAcks(run_dir + "/acks", ack_bytes));
      fs_->MarkAllDurable();
      if (::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count() !=
          parts_before) {
        ++failed;
        std::fprintf(stderr, "failed cut kept in %s\n", cut_dir.c_str());
      } else {
        fs::remove_all(cut_dir);
      }
    }
    return failed;
  }

  void Check(const std::string& scenario, const std::string& cut_dir, const Acks& acks) {
    figures_.acked_events += acks.events.size();
    const std::string path = cut_dir + "/store";
    if (!fs::exists(path + "/CURRENT")) {
      // No store survived: nothing may have been acknowledged, and no
      // half-made store may be left at its path.
      ++figures_.no_store;
      EXPECT_TRUE(acks.empty()) << "the store is gone but " << acks.events.size()
                                << " events were acknowledged";
      EXPECT_TRUE(!fs::exists(path) || fs::is_empty(path)) << "half-made store at " << path;
      if (scenario == "import") ++figures_.import_absent;
      return;
    }
    Options options;
    options.low_priority_compaction = false;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(path, options);
    ASSERT_TRUE(opened.ok()) << "reopen after the cut: " << opened.status();
    EventStore& store = **opened;
    absl::StatusOr<VerifyReport> report = store.Verify();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok) << report->reason << " at " << report->first_bad_position;

    std::vector<RecordedEvent> events;
    absl::StatusOr<std::vector<RecordedEvent>> all = store.ReadAll();
    ASSERT_TRUE(all.ok()) << all.status();
    events = std::move(*all);
    ASSERT_EQ(events.size(), store.last_position());

    // No partial append: every append's events are all there or none.
    std::map<std::string, std::pair<size_t, size_t>> groups;  // group -> (seen, n)
    for (const RecordedEvent& e : events) {
      if (e.type != kTickType) continue;
      auto& g = groups[PayloadField(e.payload, "g")];
      ++g.first;
      g.second = std::stoul(PayloadField(e.payload, "n"));
    }
    for (const auto& [group, g] : groups) {
      EXPECT_EQ(g.first, g.second) << "append " << group << " is partly stored";
    }
    // Every acknowledged event is there, where it was acknowledged.
    for (const AckedEvent& a : acks.events) {
      if (a.position == 0 || a.position > events.size()) {
        ADD_FAILURE() << "acknowledged event " << a.stream << " v" << a.version << " at position "
                      << a.position << " lost (store has " << events.size() << " events)";
        continue;
      }
      const RecordedEvent& e = events[a.position - 1];
      EXPECT_EQ(e.id.ToString(), a.id) << "position " << a.position;
      EXPECT_EQ(e.stream, a.stream) << "position " << a.position;
      EXPECT_EQ(e.version, a.version) << "position " << a.position;
    }
    for (const auto& [stream, version] : acks.versions) {
      absl::StatusOr<StreamInfo> info = store.GetStream(stream);
      EXPECT_TRUE(info.ok() && info->version >= version)
          << "acknowledged save of " << stream << " v" << version << " lost";
    }
    if (scenario == "inline" || scenario == "async") {
      CheckProjection(store, events, scenario == "inline");
    }
    if (scenario == "snapshots") CheckSnapshots(store);
    if (scenario == "import") CheckImport(store, events, acks.import_done);
  }

  // Exactly once: the read model holds exactly the events up to its
  // checkpoint, and a resumed projection ends with every event once.
  void CheckProjection(EventStore& store, const std::vector<RecordedEvent>& events,
                       bool inline_mode) {
    auto expect_model = [&](uint64_t position) {
      absl::StatusOr<std::unique_ptr<ReadModelSnapshot>> view =
          ReadModelSnapshot::Open(store, kProjectionName);
      ASSERT_TRUE(view.ok()) << view.status();
      EXPECT_EQ((*view)->position(), position);
      const uint64_t p = (*view)->position();
      ASSERT_LE(p, events.size());
      auto log = Dump(**view, "log");
      ASSERT_EQ(log.size(), p) << "read model log does not match checkpoint " << p;
      std::map<std::string, int> counts;
      for (uint64_t i = 0; i < p; ++i) {
        const RecordedEvent& e = events[i];
        EXPECT_EQ(log[i].first, coding::BigEndian64(i + 1));
        EXPECT_EQ(log[i].second, absl::StrCat(e.stream, "/", e.version, "/", e.type));
        ++counts[e.stream];
      }
      std::map<std::string, int> model;
      for (const auto& [k, v] : Dump(**view, "count")) model[k] = std::stoi(v);
      EXPECT_EQ(model, counts) << "per-stream counts differ from the log up to " << p;
    };
    {
      absl::StatusOr<std::unique_ptr<ReadModelSnapshot>> view =
          ReadModelSnapshot::Open(store, kProjectionName);
      ASSERT_TRUE(view.ok()) << view.status();
      const uint64_t checkpoint = (*view)->position();
      // An inline projection commits with the append: never behind.
      if (inline_mode) {
        EXPECT_EQ(checkpoint, events.size()) << "inline checkpoint behind the log";
      }
      expect_model(checkpoint);
    }
    ProjectionOptions po;
    po.mode = inline_mode ? ProjectionMode::kInline : ProjectionMode::kAsync;
    absl::StatusOr<std::unique_ptr<ProjectionRunner>> runner = ProjectionRunner::Start(
        store, std::make_shared<CounterProjection>(std::string(kProjectionName)), po);
    ASSERT_TRUE(runner.ok()) << runner.status();
    ASSERT_TRUE((*runner)->WaitForPosition(events.size(), absl::Seconds(20)));
    (*runner)->Stop();
    expect_model(events.size());
  }

  // A snapshot is the state at its version: loading with snapshots gives
  // what a full replay gives.
  void CheckSnapshots(EventStore& store) {
    Repository<test_domain::Account> repo(store);
    SnapshotStore snapshots(store);
    for (int t = 0; t < 2; ++t) {
      for (int j = 0; j < 2; ++j) {
        const std::string id = absl::StrCat("acct-", t, "-", j);
        absl::StatusOr<StreamInfo> info = store.GetStream(id);
        if (!info.ok()) continue;
        absl::StatusOr<test_domain::Account> with = repo.Load(id);
        absl::StatusOr<test_domain::Account> without = repo.Load(id, {.use_snapshots = false});
        ASSERT_TRUE(with.ok() && without.ok()) << id;
        EXPECT_EQ(with->version(), info->version);
        EXPECT_EQ(with->state().balance, without->state().balance) << id;
        EXPECT_EQ(with->state().deposits, without->state().deposits) << id;
        EXPECT_EQ(with->state().owner, without->state().owner) << id;
        absl::StatusOr<std::vector<Snapshot>> list = snapshots.List(id);
        ASSERT_TRUE(list.ok()) << list.status();
        for (const Snapshot& s : *list) EXPECT_LE(s.version, info->version) << id;
      }
    }
  }

  // An acknowledged import is complete; an interrupted one left a prefix of
  // the export (docs/cli.md: re-running import completes it).
  void CheckImport(EventStore& store, const std::vector<RecordedEvent>& events, bool acked) {
    ASSERT_LE(events.size(), source_events_.size());
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].id, source_events_[i].id) << "position " << i + 1;
      EXPECT_EQ(events[i].hash, source_events_[i].hash) << "position " << i + 1;
    }
    if (acked) {
      EXPECT_EQ(events.size(), source_events_.size()) << "acknowledged import incomplete";
    }
    if (events.size() == source_events_.size()) {
      ++figures_.import_complete;
    } else if (events.empty()) {
      ++figures_.import_absent;
    } else {
      ++figures_.import_partial;
    }
    (void)store;
  }

  TempDir dir_;
  std::shared_ptr<FaultInjectionFs> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  uint64_t seed_ = 0;
  bool buffered_ = false;
  std::string export_file_;
  std::vector<RecordedEvent> source_events_;
  Figures figures_;
};

TEST_F(PowerLossTest, AcknowledgedWritesSurviveSeededPowerCuts) {
  const auto start = std::chrono::steady_clock::now();
  if (const char* one = std::getenv("ANNALS_POWER_CUT")) {
    std::vector<std::string> f = absl::StrSplit(one, ':');
    ASSERT_EQ(f.size(), 3u) << "ANNALS_POWER_CUT=<scenario>:<cut_at>:<model>";
    ChildRun r{f[0], {std::stoull(f[1])}, std::stoi(f[2]), seed_};
    if (r.cuts[0] == 0) r.cuts.clear();
    EXPECT_EQ(RunAndCheck(r, 0), 0);
    return;
  }
  int cuts = 300;
  if (std::getenv("ANNALS_SOAK") != nullptr) cuts = 3000;
  if (const char* n = std::getenv("ANNALS_POWER_CUTS")) cuts = std::atoi(n);
  // Cuts per child run: each run leaves a copy of the disk at each cut.
  constexpr int kCutsPerRun = 15;

  // Share of the cuts per scenario (sums to 100).
  const std::vector<std::pair<std::string, int>> scenarios = {{"create", 10},    {"appends", 35},
                                                              {"inline", 15},    {"async", 15},
                                                              {"snapshots", 15}, {"import", 10}};
  std::mt19937_64 rng(seed_);
  int index = 0;
  int failed = 0;
  for (const auto& [scenario, share] : scenarios) {
    // Count the scenario's operations with one run cut only at its end.
    std::pair<uint64_t, uint64_t> ops{0, 0};
    failed += RunAndCheck(ChildRun{scenario, {}, 0, rng()}, index++, &ops);
    ASSERT_GT(ops.first, 0u) << scenario << ": the uncut run did not report its operations";
    const int target = std::max(1, cuts * share / 100);
    while (figures_.cuts[scenario] < target && failed < 5) {
      // Each run's last cut is at its end; the others at seeded points: a
      // fifth within store creation, the rest after it.
      ChildRun r{scenario, {}, static_cast<int>(rng() % 2), rng()};
      const int n = std::min(target - figures_.cuts[scenario], kCutsPerRun) - 1;
      for (int i = 0; i < n; ++i) {
        if (ops.second > 0 && (rng() % 5 == 0 || ops.first <= ops.second + 1)) {
          r.cuts.push_back(1 + rng() % ops.second);
        } else {
          r.cuts.push_back(ops.second + 1 + rng() % (ops.first - ops.second));
        }
      }
      std::sort(r.cuts.begin(), r.cuts.end());
      r.cuts.erase(std::unique(r.cuts.begin(), r.cuts.end()), r.cuts.end());
      for (uint64_t c : r.cuts) figures_.in_creation += c <= ops.second ? 1 : 0;
      failed += RunAndCheck(r, index++);
    }
    ASSERT_LT(failed, 5) << "stopping after 5 failed cuts";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string per;
  int total = 0;
  for (const auto& [s, c] : figures_.cuts) {
    absl::StrAppend(&per, " ", s, "=", c);
    total += c;
  }
  std::fprintf(stderr,
               "power cuts: %d in %.1f s (%s); %d within store creation, %d after the workload "
               "ended, %d left no store; %llu acknowledged events checked; import: %d complete, "
               "%d partial (a prefix), %d absent\n",
               total, seconds, per.c_str(), figures_.in_creation, figures_.at_end,
               figures_.no_store, static_cast<unsigned long long>(figures_.acked_events),
               figures_.import_complete, figures_.import_partial, figures_.import_absent);
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace annals::testing
