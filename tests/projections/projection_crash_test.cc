// Exactly-once across SIGKILL. A child process (projection_crash_child, fork
// + exec so that it starts with a fresh RocksDB) runs projections and is
// killed at random moments; after each kill the parent reopens the store and
// checks the read models, then restarts the projections and checks again.
//
//   ExactlyOnceAcrossSigkill: an async projection catching up over a
//     prepared log (kBuffered, no appends while it runs). Its read model
//     must equal the one a clean pass builds: no event applied twice (the
//     per-stream counts are read-modify-write) and none skipped (the log
//     table holds every position once).
//   InlineExactlyOnceWithAppendsUnderSigkill: kSync appends from three
//     threads through an inline projection while the kills land.
//   RebuildsExactlyOnceWithAppendsUnderSigkill: the same with an inline and
//     an async projection that are rebuilt over and over (Rebuild(),
//     RebuildSideBySide()) while the appends go on.
//
// For the last two, after each kill: every acknowledged event is in the log
// at its position, stream and version with its value; each projection's
// per-stream count, sum and last version equal those computed from the log
// up to its checkpoint (so no event was applied twice or skipped); an inline
// projection that was not being rebuilt is exactly at the end of the log;
// and after a restart every projection equals the whole log.
//
// The seed is printed; ANNALS_TEST_SEED replays a run. ANNALS_CRASH_ROUNDS
// sets the number of kills per test (scripts/test.sh sets 200 for
// ANNALS_SOAK=1).

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

constexpr int kPerRound = 3000;

int Rounds(int default_rounds) {
  if (const char* env = std::getenv("ANNALS_CRASH_ROUNDS")) return std::max(1, std::atoi(env));
  return default_rounds;
}

// A running child: its pid and, once it has said "ready", everything else it
// prints (collected by a thread until the child's stdout closes).
class Child {
 public:
  static constexpr std::chrono::seconds kReadyTimeout{60};

  Child(const std::string& store, const std::string& mode, const std::string& arg) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      execl(ANNALS_CRASH_CHILD, ANNALS_CRASH_CHILD, store.c_str(), mode.c_str(), arg.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    // The wait for "ready" is bounded: a child that never opens its store
    // (a hang in the store) is killed and reported, not waited for forever.
    char c;
    std::string first;
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
        ADD_FAILURE() << "the child (" << mode << " " << arg << ") did not say ready within "
                      << kReadyTimeout.count() << " s; killed";
        kill(pid_, SIGKILL);
        break;
      }
      if (read(fd_, &c, 1) != 1 || c == '\n') break;
      first.push_back(c);
    }
    ready_ = first == "ready";
    reader_ = std::thread([this] {
      char buf[65536];
      ssize_t n;
      while ((n = read(fd_, buf, sizeof(buf))) > 0) out_.append(buf, static_cast<size_t>(n));
    });
  }
  ~Child() {
    if (reader_.joinable()) {
      if (pid_ > 0) Kill();
      Wait();
    }
    if (fd_ >= 0) close(fd_);
  }

  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }
  void Kill() { kill(pid_, SIGKILL); }
  // Waits for the child's exit and the end of its output; its wait status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    return status;
  }
  // What it printed after "ready" (valid after Wait()).
  const std::string& output() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool ready_ = false;
  std::thread reader_;
  std::string out_;
};

TEST(ProjectionCrashTest, ExactlyOnceAcrossSigkill) {
  const uint64_t seed = testing::TestSeed();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const int kills = Rounds(10);
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  const std::string batch = "3";
  uint64_t appended = 0;
  // Appends one round of events while no child runs.
  auto append_round = [&](EventStore& store) {
    for (int i = 0; i < kPerRound; i += 50) {
      std::vector<NewEvent> events(50, NewEvent{.type = "A", .payload = "{}"});
      for (int j = 0; j < 50; ++j) events[j].type = (i + j) % 3 ? "A" : "B";
      const std::string stream = "s-" + std::to_string(rng() % 13);
      ASSERT_TRUE(store.Append(stream, ExpectedVersion::Any(), events).ok());
      appended += 50;
    }
  };

  // Calibration: how long the child takes to apply one round, from "ready".
  {
    auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    append_round(**store);
  }
  const absl::Time start = absl::Now();
  Child first(path, "async", batch);
  const absl::Time ready = absl::Now();
  const int first_status = first.Wait();
  ASSERT_TRUE(WIFEXITED(first_status) && WEXITSTATUS(first_status) == 0);
  double window_us = absl::ToDoubleMicroseconds(absl::Now() - ready);
  std::printf("child: %.1f ms to start, %.1f ms to apply %d events\n",
              absl::ToDoubleMilliseconds(ready - start), window_us / 1000, kPerRound);

  // Each round adds events, starts the child and kills it at a random moment
  // of its applying (the window adapts if the child finishes first). The
  // parent reads the checkpoint and appends the next round in one open.
  int killed_mid_run = 0;
  std::string checkpoints;
  {
    auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    append_round(**store);
  }
  for (int k = 0; k < kills; ++k) {
    Child child(path, "async", batch);
    ASSERT_GT(child.pid(), 0);
    usleep(static_cast<useconds_t>(std::uniform_real_distribution<double>(0, window_us)(rng)));
    child.Kill();
    child.Wait();
    auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    auto snapshot = ReadModelSnapshot::Open(**store, "counter");
    ASSERT_TRUE(snapshot.ok());
    const uint64_t position = (*snapshot)->position();
    checkpoints += StrCat(" ", position, "/", appended);
    if (position == appended) {
      window_us *= 0.6;  // Finished before the kill (a loaded machine varies a lot).
    } else {
      ++killed_mid_run;
    }
    snapshot->reset();
    if (k + 1 < kills) append_round(**store);
  }
  std::printf("checkpoint/last position after each kill:%s\n", checkpoints.c_str());
  // The last run completes.
  Child last(path, "async", batch);
  const int status = last.Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  Options options;
  options.durability = Durability::kBuffered;
  auto store = EventStore::Open(path, options);
  ASSERT_TRUE(store.ok());
  testing::CounterProjection clean("clean");
  ASSERT_TRUE(RebuildProjection(**store, clean).ok());
  auto crashed = ReadModelSnapshot::Open(**store, "counter");
  auto reference = ReadModelSnapshot::Open(**store, "clean");
  ASSERT_TRUE(crashed.ok() && reference.ok());
  EXPECT_EQ((*crashed)->position(), appended);
  EXPECT_EQ(testing::Dump(**crashed, "count"), testing::Dump(**reference, "count"));
  const auto log = testing::Dump(**crashed, "log");
  EXPECT_EQ(log.size(), appended);
  EXPECT_EQ(log, testing::Dump(**reference, "log"));
  EXPECT_GE(killed_mid_run, kills / 2)
      << "fewer than half of the kills hit the projection mid-run; lengthen the run or move "
         "the window";
}

// --- appends and kills in kSync mode ---

using StatsMap = std::map<std::string, std::string>;  // stream -> "count sum last_version"

struct LoggedEvent {
  std::string stream;
  uint64_t version = 0;
  std::string payload;
};

// The whole log, indexed by position (index 0 unused).
std::vector<LoggedEvent> ReadLog(EventStore& store) {
  std::vector<LoggedEvent> log(1);
  absl::Status s = store.ScanAll(ReadAllOptions{}, [&](const EventView& e) {
    if (e.position != log.size()) return false;
    log.push_back(LoggedEvent{std::string(e.stream), e.version, std::string(e.payload)});
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(log.size() - 1, store.last_position()) << "the log has a gap";
  return log;
}

// What StatsProjection must hold after applying positions 1..up_to.
StatsMap Expected(const std::vector<LoggedEvent>& log, uint64_t up_to) {
  std::map<std::string, testing::StatsProjection::Stats> stats;
  for (uint64_t p = 1; p <= up_to && p < log.size(); ++p) {
    if (!log[p].stream.starts_with("p-")) continue;
    testing::StatsProjection::Stats& s = stats[log[p].stream];
    uint64_t value = 0;
    EXPECT_TRUE(testing::StatsProjection::ParseNumber(log[p].payload, &value)) << p;
    ++s.count;
    s.sum += value;
    s.last_version = log[p].version;
  }
  StatsMap out;
  for (const auto& [stream, s] : stats) out[stream] = testing::StatsProjection::Format(s);
  return out;
}

// The projection's rows and checkpoint, from one consistent view.
std::pair<StatsMap, uint64_t> ReadStats(EventStore& store, std::string_view name) {
  auto view = ReadModelSnapshot::Open(store, name);
  EXPECT_TRUE(view.ok()) << view.status();
  if (!view.ok()) return {};
  StatsMap rows;
  for (auto& [k, v] : testing::Dump(**view, "stats")) rows[k] = v;
  return {rows, (*view)->position()};
}

// Checks the acknowledgements in `output` against the log; returns how many.
size_t CheckAcks(const std::string& output, const std::vector<LoggedEvent>& log, int round) {
  std::istringstream in(output);
  std::string line;
  size_t acks = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string tag, value, stream;
    uint64_t position = 0, version = 0;
    fields >> tag >> position >> version >> value >> stream;
    if (tag != "a" || stream.empty()) {
      if (in.eof()) break;  // The kill cut the child's last write short: no ack.
      ADD_FAILURE() << "round " << round << ": unexpected child output: " << line;
      continue;
    }
    ++acks;
    if (position == 0 || position >= log.size()) {
      ADD_FAILURE() << "round " << round << ": acknowledged position " << position
                    << " is missing (log ends at " << log.size() - 1 << ")";
      continue;
    }
    const LoggedEvent& e = log[position];
    EXPECT_TRUE(e.stream == stream && e.version == version && e.payload == value)
        << "round " << round << ": position " << position << " holds " << e.stream << " v"
        << e.version << " " << e.payload << ", acknowledged as " << stream << " v" << version << " "
        << value;
  }
  return acks;
}

struct CrashFigures {
  size_t acks = 0;
  int mid_rebuild = 0;  // Kills that found an inline model behind the log.
  std::string positions;
};

// One round: start the child, let it work 50..400 ms, kill it, check the
// crashed state and then the restarted projections.
void KillAndCheck(const std::string& path, const std::string& mode, uint64_t seed, int round,
                  std::mt19937_64& rng, const std::vector<std::string>& async_names,
                  CrashFigures* figures) {
  Child child(path, mode, std::to_string(seed + round));
  ASSERT_GT(child.pid(), 0);
  if (child.ready()) std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 350));
  child.Kill();
  const int status = child.Wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "round " << round << ": the child ended on its own (status " << status
      << "); see its stderr";

  auto store = EventStore::Open(path, Options{.durability = Durability::kSync});
  ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status();
  const std::vector<LoggedEvent> log = ReadLog(**store);
  figures->acks += CheckAcks(child.output(), log, round);

  // The crashed state: each model is exactly the log up to its checkpoint.
  auto [inline_rows, inline_position] = ReadStats(**store, "inline_stats");
  EXPECT_LE(inline_position, log.size() - 1) << "round " << round;
  EXPECT_EQ(inline_rows, Expected(log, inline_position))
      << "round " << round << ": inline_stats at checkpoint " << inline_position;
  if (inline_position + 1 < log.size()) {
    ++figures->mid_rebuild;
    EXPECT_EQ(mode, "rebuild") << "round " << round << ": an inline model is behind the log ("
                               << inline_position << " of " << log.size() - 1
                               << ") without a rebuild";
  }
  figures->positions += StrCat(" ", inline_position);
  for (const std::string& name : async_names) {
    auto [rows, position] = ReadStats(**store, name);
    EXPECT_LE(position, log.size() - 1) << "round " << round;
    EXPECT_EQ(rows, Expected(log, position))
        << "round " << round << ": " << name << " at checkpoint " << position;
    figures->positions += StrCat("/", position);
  }
  figures->positions += StrCat(":", log.size() - 1);

  // Restarted, every projection catches up with the whole log.
  const StatsMap all = Expected(log, log.size() - 1);
  {
    auto runner =
        ProjectionRunner::Start(**store, std::make_shared<testing::StatsProjection>("inline_stats"),
                                ProjectionOptions{.mode = ProjectionMode::kInline});
    ASSERT_TRUE(runner.ok()) << runner.status();
  }
  EXPECT_EQ(ReadStats(**store, "inline_stats"),
            std::make_pair(all, static_cast<uint64_t>(log.size() - 1)))
      << "round " << round << ": inline_stats after restart";
  for (const std::string& name : async_names) {
    auto runner =
        ProjectionRunner::Start(**store, std::make_shared<testing::StatsProjection>(name));
    ASSERT_TRUE(runner.ok()) << runner.status();
    ASSERT_TRUE((*runner)->WaitForPosition(log.size() - 1, absl::Seconds(60)))
        << (*runner)->status().error;
    (*runner)->Stop();
    EXPECT_EQ(ReadStats(**store, name), std::make_pair(all, static_cast<uint64_t>(log.size() - 1)))
        << "round " << round << ": " << name << " after restart";
  }
}

void RunAppendCrashTest(const std::string& mode, int default_rounds, size_t prepared,
                        const std::vector<std::string>& async_names) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  const int rounds = Rounds(default_rounds);
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  // A prepared log, so that rebuilds take long enough to be killed in.
  {
    auto store = EventStore::Open(path, Options{.durability = Durability::kSync});
    ASSERT_TRUE(store.ok()) << store.status();
    for (size_t i = 0; i < prepared; i += 100) {
      std::vector<NewEvent> events(100, NewEvent{.type = "Value"});
      std::vector<std::string> values(100);
      for (int j = 0; j < 100; ++j) {
        values[j] = std::to_string(rng() % 1'000'000);
        events[j].payload = values[j];
      }
      ASSERT_TRUE(
          (*store)->Append("p-" + std::to_string(rng() % 8), ExpectedVersion::Any(), events).ok());
    }
  }
  CrashFigures figures;
  const absl::Time start = absl::Now();
  for (int round = 0; round < rounds; ++round) {
    KillAndCheck(path, mode, seed, round, rng, async_names, &figures);
    if (::testing::Test::HasFatalFailure()) return;
  }
  auto store = EventStore::Open(path, Options{.durability = Durability::kSync});
  ASSERT_TRUE(store.ok()) << store.status();
  auto report = (*store)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason << " at " << report->first_bad_position;
  std::printf(
      "%s: %d kills in %.1f s, %zu acknowledged events checked, %d kills found "
      "inline_stats behind the log (mid-rebuild); inline[/async]:log after each kill:%s\n",
      mode.c_str(), rounds, absl::ToDoubleSeconds(absl::Now() - start), figures.acks,
      figures.mid_rebuild, figures.positions.c_str());
  EXPECT_GT(figures.acks, 0u) << "no append was acknowledged before the kills";
  if (mode == "rebuild") {
    EXPECT_GE(figures.mid_rebuild, rounds / 4)
        << "fewer than a quarter of the kills landed in an inline rebuild";
  }
}

TEST(ProjectionCrashTest, InlineExactlyOnceWithAppendsUnderSigkill) {
  RunAppendCrashTest("inline", 8, /*prepared=*/0, {});
}

TEST(ProjectionCrashTest, RebuildsExactlyOnceWithAppendsUnderSigkill) {
  RunAppendCrashTest("rebuild", 8, /*prepared=*/20000, {"async_stats"});
}

}  // namespace
}  // namespace annals
