#include "tests/common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

#include "gtest/gtest.h"
#include "tests/common/files.h"

extern char** environ;

namespace annals::testing {
namespace {

// The child's VmHWM from /proc, in KiB; 0 when it cannot be read.
long PeakRssKb(pid_t pid) {
  std::ifstream proc("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(proc, line);) {
    if (line.starts_with("VmHWM:")) return std::atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (!started) return "not started";
  if (timed_out) return "timed out (killed)";
  if (exited) return "exit " + std::to_string(exit_code);
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "ended in an unknown way";
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    started_ = std::exchange(other.started_, false);
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
    options_ = std::move(other.options_);
    deadline_ = other.deadline_;
  }
  return *this;
}

Process::~Process() { KillAndReap(); }

void Process::KillAndReap() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

Process Process::Start(const std::vector<std::string>& argv, const std::string& scratch,
                       const ProcessOptions& options) {
  Process p;
  p.options_ = options;
  p.out_path_ = scratch + ".out";
  p.err_path_ = scratch + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, options.stdin_path.c_str(), O_RDONLY, 0);
  if (options.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.stdout_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  if (options.capture_stderr) {
    posix_spawn_file_actions_addopen(&actions, 2, p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  std::vector<std::string> storage = argv;
  std::vector<char*> args;
  for (std::string& a : storage) args.push_back(a.data());
  args.push_back(nullptr);
  const int rc = argv.empty()
                     ? EINVAL
                     : posix_spawn(&p.pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << (argv.empty() ? "(no program)" : argv[0]) << ": "
                  << std::strerror(rc);
    p.pid_ = -1;
    return p;
  }
  p.started_ = true;
  p.deadline_ = std::chrono::steady_clock::now() + options.timeout;
  return p;
}

Process Process::Fork(const std::function<void(int fd)>& body, const std::string& scratch,
                      const ProcessOptions& options) {
  Process p;
  p.options_ = options;
  p.out_path_ = scratch + ".out";
  p.err_path_ = scratch + ".err";
  // Buffered output would be written twice, by this process and the child.
  std::fflush(nullptr);
  p.pid_ = fork();
  if (p.pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return p;
  }
  if (p.pid_ == 0) {
    const int in = open(options.stdin_path.c_str(), O_RDONLY);
    const int out = options.stdout_fd >= 0
                        ? options.stdout_fd
                        : open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err =
        options.capture_stderr ? open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644) : 2;
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(err, 2);
    body(out);
    _exit(0);
  }
  p.started_ = true;
  p.deadline_ = std::chrono::steady_clock::now() + options.timeout;
  return p;
}

ProcessResult Process::Wait() {
  ProcessResult result;
  if (pid_ <= 0) return result;
  result.started = started_;
  const bool limited = options_.timeout.count() > 0;
  int status = 0;
  rusage usage{};
  bool reaped = false;
  if (!limited && !options_.sample_peak_rss) {
    // Nothing to do while it runs: one blocking wait.
    for (;;) {
      const pid_t r = wait4(pid_, &status, 0, &usage);
      if (r == pid_) {
        reaped = true;
        break;
      }
      if (r < 0 && errno != EINTR) break;
    }
  } else {
    for (;;) {
      const pid_t r = wait4(pid_, &status, WNOHANG, &usage);
      if (r == pid_) {
        reaped = true;
        break;
      }
      if (r < 0 && errno != EINTR) break;
      if (options_.sample_peak_rss) {
        result.peak_rss_kb = std::max(result.peak_rss_kb, PeakRssKb(pid_));
      }
      if (limited && std::chrono::steady_clock::now() > deadline_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        result.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.sample_peak_rss ? 10 : 2));
    }
  }
  if (!reaped && !result.timed_out) {
    ADD_FAILURE() << "wait for child " << pid_ << ": " << std::strerror(errno);
  }
  pid_ = -1;
  if (reaped) {
    result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    if (WIFEXITED(status)) {
      result.exited = true;
      result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.signal = WTERMSIG(status);
    }
  }
  if (options_.stdout_fd < 0) result.out = ReadFile(out_path_);
  if (options_.capture_stderr) result.err = ReadFile(err_path_);
  return result;
}

ProcessResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch,
                         const ProcessOptions& options) {
  return Process::Start(argv, scratch, options).Wait();
}

ProcessResult RunForked(const std::function<void(int fd)>& body, const std::string& scratch,
                        const ProcessOptions& options) {
  return Process::Fork(body, scratch, options).Wait();
}

}  // namespace annals::testing
