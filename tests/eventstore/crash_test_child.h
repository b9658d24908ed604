// File: tests/eventstore/crash_test_child.h
//
// What crash_test_child (the appender that crash_test SIGKILLs) writes to its
// stdout: one byte 'r' once its store is open, then one CrashAck per
// acknowledged event, each with one write(2) of less than PIPE_BUF bytes, so
// that acks of different threads never interleave.
//
// Usage: crash_test_child <store> <seed>. Any error ends it with a message on
// stderr and an exit code >= 1: crash_test expects every child to die by its
// SIGKILL.
//
// It is a program of its own, started with posix_spawn, because the test
// process has RocksDB threads from reopening the store after each kill: a
// child forked from it would inherit RocksDB's mutexes in whatever state
// those threads left them and none of the threads, and opening a store there
// can block forever (seen once: seed 786081284).

#ifndef ANNALS_TESTS_EVENTSTORE_CRASH_TEST_CHILD_H_
#define ANNALS_TESTS_EVENTSTORE_CRASH_TEST_CHILD_H_

#include <array>
#include <cstdint>

namespace annals::testing {

inline constexpr char kCrashChildReady = 'r';

struct CrashAck {
  uint64_t position;
  uint64_t version;
  char stream[16];  // NUL-terminated
  std::array<uint8_t, 16> id;
};

}  // namespace annals::testing

#endif  // ANNALS_TESTS_EVENTSTORE_CRASH_TEST_CHILD_H_
