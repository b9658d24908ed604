// File: annals/log_sink.h
//
// LogSink: where the diagnostic messages of the storage engine under a store
// go (flush and compaction trouble, background errors, recovery). annals
// never writes them into the store's directory: on a full disk a log file
// there is one more write that fails, and Debian's RocksDB 7.8 (built with
// assertions) aborted the process while writing its own LOG file after a
// failed append (docs/reliability.md). Set Options::log_sink to see them;
// by default they are dropped.
//
// Thread-safety: Log() is called from any thread, including the engine's
// background threads, possibly concurrently; implementations must be
// thread-safe and must not block for long (a flush or compaction waits for
// it). Every store opened with a sink holds a reference to it until closed.

#ifndef ANNALS_LOG_SINK_H_
#define ANNALS_LOG_SINK_H_

#include <cstdint>
#include <string_view>

namespace annals {

enum class LogLevel : uint8_t {
  kDebug,
  kInfo,
  kWarning,
  kError,
  kFatal,
};

// "debug", "info", "warning", "error", "fatal".
std::string_view LogLevelName(LogLevel level);

class LogSink {
 public:
  virtual ~LogSink() = default;

  // The least severe level this sink wants; less severe messages are not
  // formatted at all. Default: kWarning.
  virtual LogLevel min_level() const { return LogLevel::kWarning; }

  // One message, without a trailing newline. `message` is valid only during
  // the call.
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

}  // namespace annals

#endif  // ANNALS_LOG_SINK_H_
