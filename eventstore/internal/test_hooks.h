// File: eventstore/internal/test_hooks.h
//
// Hooks that let tests put a fault-injecting file system under every store
// (power-loss simulation, I/O fault sweeps). Not part of the public API.

#ifndef ANNALS_EVENTSTORE_INTERNAL_TEST_HOOKS_H_
#define ANNALS_EVENTSTORE_INTERNAL_TEST_HOOKS_H_

#include "rocksdb/env.h"

namespace annals::internal {

// TEST ONLY: every store opened after this call does all its file I/O
// (RocksDB's files and the directory operations of store creation) through
// `env`; nullptr restores the default. The store does not own `env`, which
// must outlive every store opened with it. Thread-safe, but meant to be set
// while no store is being opened.
void SetEnvForTesting(rocksdb::Env* env);

// The env set by SetEnvForTesting(), or nullptr.
rocksdb::Env* EnvForTesting();

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_TEST_HOOKS_H_
