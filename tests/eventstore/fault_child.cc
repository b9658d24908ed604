// The child process of power_loss_test and io_fault_sweep_test: runs one
// workload on a store whose file system is a FaultInjectionFs (fork + exec by
// the test, so that every trial starts with a fresh RocksDB and a crash or an
// assertion in RocksDB ends only this trial).
//
//   fault_child powerloss <scenario> <dir> <cut,cut,...> <seed> <model> <buffered> <export>
//     Runs <scenario> on <dir>/data/store. Before each listed mutating
//     file-system operation, all I/O is held while the disk as a power cut
//     would leave it is copied to <dir>/cut-<i> (FaultInjectionFs::ArmCopies),
//     with the size of the ack file then in <dir>/cut-<i>.acks; one more cut
//     after the workload (store still open). Exits kCutExit.
//     Every acknowledged write is appended to <dir>/acks as it returns;
//     <dir>/ops receives "<mutating ops> <ops of store creation>".
//   fault_child sweep <op> <k> <trial_dir> <seed>
//     Runs the scripted sweep workload with the <k>-th operation of kind <op>
//     failing (k = 0: none), then closes the store, simulates a power loss,
//     reopens without faults and checks it. Prints "key value" lines; exit 0
//     when every check passed, 1 when one failed (printed as "FAIL ...").

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "annals/cli.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/read_model.h"
#include "annals/repository.h"
#include "annals/snapshot_store.h"
#include "eventstore/internal/test_hooks.h"
#include "rocksdb/env.h"
#include "tests/aggregates/account.h"
#include "tests/common/fault_injection_fs.h"
#include "tests/eventstore/fault_workloads.h"
#include "tests/projections/test_projections.h"

namespace annals::testing {
namespace {

// Appends acknowledgement lines with one write(2) each, outside the
// FaultInjectionFs (so they survive the simulated power cut: they record
// what the program was told, not what the disk holds).
class AckLog {
 public:
  explicit AckLog(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644)) {
    if (fd_ < 0) Die("cannot open the ack file " + path);
  }
  void Write(const std::string& lines) {
    std::lock_guard<std::mutex> l(mu_);
    if (::write(fd_, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) {
      Die("cannot write the ack file");
    }
  }
  // Bytes written so far (whole lines only: writers hold the same mutex).
  uint64_t Size() {
    std::lock_guard<std::mutex> l(mu_);
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    return end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "fault_child: %s\n", why.c_str());
    std::fflush(stderr);
    _exit(kChildError);
  }

 private:
  std::mutex mu_;
  int fd_;
};

std::string AckLines(const std::string& group, size_t n, absl::Span<const StreamAppend> parts,
                     const std::vector<AppendResult>& results,
                     const std::vector<std::vector<Uuid>>& ids) {
  std::string out;
  for (size_t p = 0; p < parts.size(); ++p) {
    for (size_t i = 0; i < parts[p].events.size(); ++i) {
      absl::StrAppend(&out, "E ", group, " ", n, " ", std::string(parts[p].stream), " ",
                      results[p].first_version + i, " ", results[p].first_position + i, " ",
                      ids[p][i].ToString(), "\n");
    }
  }
  return out;
}

// `threads` threads each make `appends` appends: two in three to one stream
// (1-3 events), one in three to 2-3 streams at once (1-2 events each).
// Every event's payload names its append ("g") and the append's event count
// ("n"), so that a checker can see a partly stored append.
void RunAppenders(EventStore& store, AckLog& acks, int threads, int appends, uint64_t seed,
                  const std::string& stream_prefix = "s-") {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 1000003 + t);
      for (int a = 0; a < appends; ++a) {
        const std::string group = absl::StrCat(t, "-", a);
        const bool multi = rng() % 3 == 0;
        const int streams = multi ? 2 + static_cast<int>(rng() % 2) : 1;
        std::vector<std::string> names;
        const int first = static_cast<int>(rng() % 6);
        for (int s = 0; s < streams; ++s) {
          names.push_back(absl::StrCat(stream_prefix, (first + s) % 6));
        }
        std::vector<int> counts;
        size_t n = 0;
        for (int s = 0; s < streams; ++s) {
          counts.push_back(multi ? 1 + static_cast<int>(rng() % 2)
                                 : 1 + static_cast<int>(rng() % 3));
          n += counts.back();
        }
        const std::string payload = absl::StrFormat(R"({"g":"%s","n":%d,"pad":"%s"})", group, n,
                                                    std::string(rng() % 300, 'x'));
        std::vector<std::vector<NewEvent>> events(streams);
        std::vector<std::vector<Uuid>> ids(streams);
        std::vector<StreamAppend> parts;
        for (int s = 0; s < streams; ++s) {
          for (int i = 0; i < counts[s]; ++i) {
            ids[s].push_back(Uuid::V7());
            events[s].push_back(
                NewEvent{.id = ids[s].back(), .type = kTickType, .payload = payload});
          }
        }
        for (int s = 0; s < streams; ++s) {
          parts.push_back(StreamAppend{.stream = names[s], .events = events[s]});
        }
        absl::StatusOr<std::vector<AppendResult>> r = store.AppendMulti(parts);
        if (!r.ok()) AckLog::Die("append failed before the cut: " + r.status().ToString());
        acks.Write(AckLines(group, n, parts, *r, ids));
      }
    });
  }
  for (auto& w : workers) w.join();
}

int PowerLossMain(int argc, char** argv) {
  if (argc < 9) {
    AckLog::Die("usage: powerloss <scenario> <dir> <cuts> <seed> <model> <buffered> <export>");
  }
  const std::string scenario = argv[2];
  const std::string dir = argv[3];
  std::vector<uint64_t> cuts;
  for (const char* p = argv[4]; *p != '\0';) {
    char* end = nullptr;
    const uint64_t n = std::strtoull(p, &end, 10);
    if (end == p) break;
    if (n > 0) cuts.push_back(n);
    p = *end == ',' ? end + 1 : end;
  }
  const uint64_t seed = std::strtoull(argv[5], nullptr, 10);
  const auto model = static_cast<PowerLossModel>(std::atoi(argv[6]));
  const bool buffered = std::atoi(argv[7]) != 0;
  const std::string export_file = argv[8];

  // The store lives in <dir>/data (so a copy of it is a copy of everything
  // store creation touches); each cut i leaves <dir>/cut-<i> (the disk after
  // the power loss) and <dir>/cut-<i>.acks (bytes of the ack file then).
  const std::string data = dir + "/data";
  if (::mkdir(data.c_str(), 0755) != 0) AckLog::Die("cannot create " + data);
  auto fs = std::make_shared<FaultInjectionFs>(dir + "/graveyard");
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  internal::SetEnvForTesting(env.get());
  AckLog acks(dir + "/acks");
  fs->ArmCopies(
      cuts, data, model, seed,
      [&](size_t i) {
        std::ofstream(absl::StrCat(dir, "/cut-", i, ".acks")) << acks.Size() << "\n";
        return absl::StrCat(dir, "/cut-", i);
      },
      [&](size_t i, const PowerLossReport& report) {
        if (!report.errors.empty()) {
          AckLog::Die(absl::StrCat("power-loss copy ", i, ": ", report.ToString()));
        }
      });

  Options options;
  options.durability = buffered ? Durability::kBuffered : Durability::kSync;
  options.low_priority_compaction = false;
  const std::string path = data + "/store";
  std::unique_ptr<EventStore> store;
  uint64_t creation_ops = 0;
  auto open = [&] {
    absl::StatusOr<std::unique_ptr<EventStore>> s = EventStore::Open(path, options);
    if (!s.ok()) AckLog::Die("open failed before the cut: " + s.status().ToString());
    store = std::move(*s);
    creation_ops = fs->mutating_count();
  };
  std::vector<std::unique_ptr<ProjectionRunner>> runners;
  std::vector<std::shared_ptr<Projection>> projections;

  if (scenario == "create") {
    open();
    RunAppenders(*store, acks, 1, 1, seed);
  } else if (scenario == "appends") {
    open();
    RunAppenders(*store, acks, 4, 10, seed);
  } else if (scenario == "inline" || scenario == "async") {
    open();
    ProjectionOptions po;
    po.mode = scenario == "inline" ? ProjectionMode::kInline : ProjectionMode::kAsync;
    po.batch_events = 3;  // many checkpoints
    projections.push_back(std::make_shared<CounterProjection>(std::string(kProjectionName)));
    absl::StatusOr<std::unique_ptr<ProjectionRunner>> runner =
        ProjectionRunner::Start(*store, projections.back(), po);
    if (!runner.ok()) AckLog::Die("projection start failed: " + runner.status().ToString());
    runners.push_back(std::move(*runner));
    RunAppenders(*store, acks, 3, 8, seed);
    runners.back()->WaitForPosition(store->last_position(), absl::Seconds(5));
  } else if (scenario == "snapshots") {
    open();
    Repository<test_domain::Account> repo(*store, RepositoryOptions{.snapshot_every = 3});
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < 16; ++i) {
          const std::string id = absl::StrCat("acct-", t, "-", i % 2);
          absl::StatusOr<test_domain::Account> a = repo.Execute(id, [](test_domain::Account& acct) {
            return acct.version() == 0 ? acct.Open("owner") : acct.Deposit(10);
          });
          if (!a.ok()) AckLog::Die("repository execute failed: " + a.status().ToString());
          acks.Write(absl::StrCat("V ", id, " ", a->version(), "\n"));
        }
      });
    }
    for (auto& w : workers) w.join();
  } else if (scenario == "import") {
    std::ifstream in(export_file);
    if (!in) AckLog::Die("cannot read " + export_file);
    std::ostringstream out, err;
    std::string arg0 = "annals", arg1 = "import", arg2 = path;
    char* args[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
    const int rc = RunCli(3, args, CliOptions{}, in, out, err);
    if (rc != 0) AckLog::Die(absl::StrCat("import exited ", rc, ": ", err.str()));
    acks.Write("I\n");
    creation_ops = 0;
  } else {
    AckLog::Die("unknown scenario " + scenario);
  }
  {
    const std::string ops = absl::StrCat(fs->mutating_count(), " ", creation_ops, "\n");
    std::ofstream(dir + "/ops") << ops;
  }
  // The last cut: after the workload, with the store still open.
  fs->CopyNow();
  std::fflush(nullptr);
  _exit(kCutExit);
}

}  // namespace
}  // namespace annals::testing

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "powerloss") {
    return annals::testing::PowerLossMain(argc, argv);
  }
  if (argc >= 2 && std::string(argv[1]) == "sweep") {
    return annals::testing::SweepMain(argc, argv);
  }
  std::fprintf(stderr, "usage: fault_child powerloss|sweep ...\n");
  return annals::testing::kChildError;
}
