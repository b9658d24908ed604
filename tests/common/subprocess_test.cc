// The shared test helpers themselves (tests/common/): what a child's end
// and output come back as, for programs and forked functions, and the line
// and file helpers.

#include "tests/common/subprocess.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "tests/common/files.h"
#include "tests/common/temp_dir.h"

namespace annals::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SubprocessTest, ProgramGetsStdinAndReportsOutputAndExitCode) {
  TempDir dir;
  WriteFile(dir.Sub("in"), "from stdin\n");
  const ProcessResult r = RunProgram({"/bin/sh", "-c", "cat; echo oops >&2; exit 3"}, dir.Sub("sh"),
                                     ProcessOptions{.stdin_path = dir.Sub("in")});
  EXPECT_TRUE(r.started);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "from stdin\n");
  EXPECT_EQ(r.err, "oops\n");
  EXPECT_EQ(r.Describe(), "exit 3");
}

TEST(SubprocessTest, StdoutIntoADescriptorIsNotCaptured) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const ProcessResult r =
      RunProgram({"/bin/echo", "piped"}, dir.Sub("echo"), ProcessOptions{.stdout_fd = fds[1]});
  close(fds[1]);
  char buf[64] = {};
  const ssize_t n = read(fds[0], buf, sizeof(buf));
  close(fds[0]);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "piped\n");
}

TEST(SubprocessTest, ASignalIsReportedNotAnExit) {
  TempDir dir;
  const ProcessResult r = RunProgram({"/bin/sh", "-c", "kill -9 $$"}, dir.Sub("sh"));
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_THAT(r.Describe(), ::testing::HasSubstr("killed by signal 9"));
}

TEST(SubprocessTest, AChildPastItsTimeoutIsKilled) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult r = RunProgram({"/bin/sleep", "30"}, dir.Sub("sleep"),
                                     ProcessOptions{.timeout = std::chrono::milliseconds(100)});
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.exited);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(SubprocessTest, AProgramThatCannotStartIsATestFailure) {
  TempDir dir;
  ProcessResult r;
  EXPECT_NONFATAL_FAILURE(r = RunProgram({dir.Sub("no-such-program")}, dir.Sub("none")),
                          "cannot start");
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(r.Describe(), "not started");
}

TEST(SubprocessTest, PeakMemoryIsSampledWhileTheChildRuns) {
  TempDir dir;
  const ProcessResult r =
      RunProgram({"/bin/sleep", "0.2"}, dir.Sub("sleep"), ProcessOptions{.sample_peak_rss = true});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(r.peak_rss_kb, 0);
  EXPECT_GT(r.cpu_seconds, -1.0);  // Reported; a sleeping child uses next to none.
}

TEST(SubprocessTest, ForkedBodyWritesItsResultAndEndsWithExitZero) {
  TempDir dir;
  const ProcessResult r = RunForked(
      [](int fd) {
        const std::string text = "result";
        if (write(fd, text.data(), text.size()) < 0) _exit(9);
      },
      dir.Sub("body"));
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "result");
}

TEST(SubprocessTest, AForkedBodyThatAbortsKeepsWhatItWroteBefore) {
  TempDir dir;
  const ProcessResult r = RunForked(
      [](int fd) {
        if (write(fd, "before", 6) < 0) _exit(9);
        std::abort();
      },
      dir.Sub("abort"));
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(r.signal, SIGABRT);
  EXPECT_EQ(r.out, "before");
}

TEST(SubprocessTest, StartedProcessesRunTogetherAndAnUnwaitedOneIsKilled) {
  TempDir dir;
  std::vector<Process> running;
  const std::vector<std::string> words = {"one", "two", "three"};
  for (const std::string& word : words) {
    running.push_back(Process::Start({"/bin/echo", word}, dir.Sub(word)));
  }
  for (size_t i = 0; i < words.size(); ++i) EXPECT_EQ(running[i].Wait().out, words[i] + "\n");
  pid_t pid;
  {
    Process forgotten = Process::Start({"/bin/sleep", "30"}, dir.Sub("forgotten"));
    pid = forgotten.pid();
    ASSERT_GT(pid, 0);
  }
  // Reaped by the destructor: no such process any more.
  EXPECT_EQ(kill(pid, 0), -1);
}

TEST(FilesTest, SplitLinesReadAndWrite) {
  EXPECT_THAT(SplitLines(""), IsEmpty());
  EXPECT_THAT(SplitLines("a\nb\n"), ElementsAre("a", "b"));
  EXPECT_THAT(SplitLines("a\n\nb"), ElementsAre("a", "", "b"));
  TempDir dir;
  WriteFile(dir.Sub("f"), std::string("x\0y", 3));
  EXPECT_EQ(ReadFile(dir.Sub("f")), std::string("x\0y", 3));
  EXPECT_EQ(ReadFile(dir.Sub("missing")), "");
  EXPECT_NONFATAL_FAILURE(WriteFile(dir.Sub("missing/f"), "x"), "cannot write");
}

}  // namespace
}  // namespace annals::testing
