// File: eventstore/internal/commit_hook.h
//
// CommitHook: how a module writes atomically with an append (inline
// projections today). Registered through StoreAccess
// (eventstore/internal/store_access.h).

#ifndef ANNALS_EVENTSTORE_INTERNAL_COMMIT_HOOK_H_
#define ANNALS_EVENTSTORE_INTERNAL_COMMIT_HOOK_H_

#include "absl/status/status.h"
#include "annals/event.h"
#include "rocksdb/write_batch.h"

namespace annals::internal {

// A hook the committer calls for every event it is about to commit (inline
// projections). Writes a hook adds to `batch` commit atomically with the
// events. Hooks run on the committing thread (an appender thread acting as
// committer), one group at a time and one event at a time, in position
// order, never concurrently; they must not call back into the EventStore's
// append path.
class CommitHook {
 public:
  virtual ~CommitHook() = default;

  // Exceptions: the committer catches every exception escaping these calls,
  // so user code can never take the committer role with it and wedge later
  // appends. Returning a status is still the way to fail.

  // Called for each event of an append. A non-OK status fails that append:
  // its events and every hook write made for it are rolled back, and the
  // appender receives the status. An exception is the same as returning
  // kInternal with the exception's message (what()); the other appends of
  // the group are unaffected.
  virtual absl::Status OnEvent(const EventView& event, rocksdb::WriteBatch& batch) = 0;

  // Called after the events of one append were rolled back (a hook failed),
  // so a hook may drop state it cached for them. If it throws, the hook's
  // state may no longer match the store: the failing append's message says
  // so, the rest of the group is refused (kFailedPrecondition), and the
  // store refuses appends until it is reopened (the sticky write error,
  // whose message carries the exception's).
  virtual void OnRollback() {}

  // Called after the group's batch was written (ok) or failed to be written;
  // every hook is called even if an earlier one threw. If it throws, the
  // group's appends keep their outcome (a written batch is durable), and the
  // store refuses appends until it is reopened, as for OnRollback().
  virtual void OnGroupDone(bool written) { (void)written; }
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_COMMIT_HOOK_H_
