// File: tests/eventstore/fault_workloads.h
//
// What the fault-injection tests (power_loss_test, io_fault_sweep_test) and
// their child process (fault_child) agree on.

#ifndef ANNALS_TESTS_EVENTSTORE_FAULT_WORKLOADS_H_
#define ANNALS_TESTS_EVENTSTORE_FAULT_WORKLOADS_H_

#include <string_view>

namespace annals::testing {

// Exit code of a child that reached its power cut.
inline constexpr int kCutExit = 42;
// Exit code of a child that failed before its cut (a bug in the workload or
// an error the store should not have returned); it printed why on stderr.
inline constexpr int kChildError = 3;

// Event type of the appenders' events; their payload is
// {"g":"<append>","n":<events of the append>,"pad":"..."}.
inline constexpr std::string_view kTickType = "Tick";
// The counter projection (tests/projections/test_projections.h) of the
// projection scenarios.
inline constexpr std::string_view kProjectionName = "counter";

// The sweep part of fault_child (fault_sweep_workload.cc).
int SweepMain(int argc, char** argv);

}  // namespace annals::testing

#endif  // ANNALS_TESTS_EVENTSTORE_FAULT_WORKLOADS_H_
