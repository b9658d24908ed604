// File: tests/common/subprocess.h
//
// Child processes for tests: a program (the annals binary, a test's own
// child binary) or a function run in a forked child, with its output
// collected in files and its end reported as data (exit code, signal,
// timeout, CPU time, peak memory) instead of failing the test, so that each
// test judges what it expects.
//
// Example:
//   testing::TempDir dir;
//   testing::ProcessResult r =
//       testing::RunProgram({"/bin/echo", "hi"}, dir.Sub("echo"));
//   EXPECT_TRUE(r.exited && r.exit_code == 0);
//   EXPECT_EQ(r.out, "hi\n");
//
// Thread-safety: the functions are safe to call from several threads; a
// Process is used by one thread.

#ifndef ANNALS_TESTS_COMMON_SUBPROCESS_H_
#define ANNALS_TESTS_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace annals::testing {

// How a child is started.
struct ProcessOptions {
  // The child's stdin. Default: /dev/null.
  std::string stdin_path = "/dev/null";
  // When >= 0, the child's stdout (a program's fd 1; the fd a forked body is
  // given) is this descriptor, borrowed, and ProcessResult::out stays empty.
  // Default: a file that becomes ProcessResult::out.
  int stdout_fd = -1;
  // When false, the child writes to this process's stderr (a test's log)
  // and ProcessResult::err stays empty. Default: captured.
  bool capture_stderr = true;
  // The child is killed with SIGKILL this long after its start
  // (ProcessResult::timed_out). Zero: no limit.
  std::chrono::milliseconds timeout{0};
  // Samples the child's peak resident memory (VmHWM in /proc) while it runs,
  // every 10 ms: rusage's ru_maxrss would report this process's own peak,
  // which a child started by posix_spawn (vfork) inherits across exec.
  bool sample_peak_rss = false;
};

// How a child ended and what it wrote.
struct ProcessResult {
  bool started = false;  // false: it could not be started (a test failure is recorded)
  bool exited = false;   // exited normally (else killed by a signal or timed out)
  int exit_code = -1;    // when exited
  int signal = 0;        // the signal that killed it, when it did not exit
  bool timed_out = false;
  std::string out{};       // stdout (a forked body: what it wrote to its fd)
  std::string err{};       // stderr
  double cpu_seconds = 0;  // user + system time
  long peak_rss_kb = 0;    // with ProcessOptions::sample_peak_rss

  // "exit N", "killed by signal N (name)", "timed out" or "not started".
  std::string Describe() const;
};

// A started child; Wait() collects it. Destroying a Process that was not
// waited for kills and reaps the child. Movable, not copyable.
class Process {
 public:
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Starts the program argv[0] (a path, not searched in $PATH) with
  // arguments argv[1..]. Output files are `scratch`.out and `scratch`.err.
  static Process Start(const std::vector<std::string>& argv, const std::string& scratch,
                       const ProcessOptions& options = {});

  // Runs `body(fd)` in a forked child, which exits 0 when `body` returns;
  // `body` writes its result to `fd` (a file, so that a crash leaves what
  // was written before it; or ProcessOptions::stdout_fd). The child's own
  // stdout is left as it is. `body` must not use gtest, and should not
  // touch what other threads of this process hold (fork copies one thread).
  static Process Fork(const std::function<void(int fd)>& body, const std::string& scratch,
                      const ProcessOptions& options = {});

  pid_t pid() const { return pid_; }

  // Waits for the child's end (killing it at its deadline) and collects its
  // output. Once only.
  ProcessResult Wait();

 private:
  void KillAndReap();

  pid_t pid_ = -1;
  bool started_ = false;
  std::string out_path_;
  std::string err_path_;
  ProcessOptions options_;
  std::chrono::steady_clock::time_point deadline_;
};

// Process::Start(...).Wait().
ProcessResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch,
                         const ProcessOptions& options = {});

// Process::Fork(...).Wait().
ProcessResult RunForked(const std::function<void(int fd)>& body, const std::string& scratch,
                        const ProcessOptions& options = {});

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_SUBPROCESS_H_
