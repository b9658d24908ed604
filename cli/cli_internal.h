// File: cli/cli_internal.h
//
// What every subcommand of the `annals` command line shares: the context it
// runs in (options, streams), opening a store, exit codes, error reporting
// and JSON output.
//
// How a subcommand is built: cli/<name>_command.cc defines
//
//   void Define<Name>Command(CLI::App& root, CommandSet& commands);
//
// which adds its CLI11 subcommand(s) to `root`, binds their flags to a struct
// it owns (through a shared_ptr captured by the runner), and registers one
// runner per subcommand with commands.Add(). The runner is called after a
// successful parse and returns the exit code. Define<Name>Command is listed
// once, in ANNALS_CLI_SUBCOMMANDS (cli/cli.cc); that line is the only
// registration.
//
// Thread-safety: a CliContext belongs to one RunCli() call.

#ifndef ANNALS_CLI_CLI_INTERNAL_H_
#define ANNALS_CLI_CLI_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/cli.h"
#include "annals/event.h"
#include "annals/event_store.h"
#include "annals/uuid.h"
#include "nlohmann/json.hpp"

namespace annals::cli {

using Json = nlohmann::ordered_json;

// Exit codes (shared/cli-contract.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,       // anything else: I/O, bad input data, a locked store
  kExitUsage = 2,       // bad command line
  kExitConflict = 3,    // wrong expected version
  kExitNotFound = 4,    // store, stream (or version) not found
  kExitCorruption = 5,  // corruption or tampering
};

// What a subcommand runs with. Non-owning; valid for one RunCli() call.
struct CliContext {
  const CliOptions& options;
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  // --pretty: indented JSON for people instead of one object per line.
  bool pretty = false;
  // The errno of the first failed write to `out` (by WriteJson() or
  // FinishOutput()), 0 while none failed. EPIPE means the reader closed the
  // pipe (`annals all | head -1`): a normal end for a listing.
  int output_errno = 0;
};

using CommandRunner = std::function<int(CliContext&)>;

// The runners of the registered subcommands, keyed by their CLI11 app.
class CommandSet {
 public:
  // Registers `run` for `command`, a subcommand (at any depth) of the root.
  void Add(const CLI::App* command, CommandRunner run) {
    runners_.emplace_back(command, std::move(run));
  }
  // The runner of `command`, or nullptr.
  const CommandRunner* Find(const CLI::App* command) const {
    for (const auto& [app, run] : runners_) {
      if (app == command) return &run;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<const CLI::App*, CommandRunner>> runners_;
};

// The exit code for a non-OK status: kAborted 3, kNotFound 4, kDataLoss 5,
// everything else 1.
int ExitCodeFor(const absl::Status& status);

// Writes "annals: <message>" as one line on ctx.err and returns the exit
// code for `status`. The message is escaped as by EscapeForTerminal().
int ReportError(CliContext& ctx, const absl::Status& status);

// Writes "annals: <message>" as one line on ctx.err and returns `code`.
// The message is escaped as by EscapeForTerminal().
int ReportError(CliContext& ctx, int code, std::string_view message);

// `text` with every byte a terminal could act on or not show made visible:
// C0 controls and DEL as \n, \r, \t or \xNN, C1 controls (U+0080..U+009F)
// and bytes that are not UTF-8 as \xNN per byte. Printable ASCII and valid
// UTF-8 stay as they are. Errors echo input (stream names, JSON lines,
// arguments), which must neither break the one-line format nor send escape
// sequences to the terminal.
std::string EscapeForTerminal(std::string_view text);

// Opens an existing store at `path` (a missing one is kNotFound: exit 4).
// Read-only opens a RocksDB secondary (works while another process writes);
// writable opens use Durability::kSync.
absl::StatusOr<std::unique_ptr<EventStore>> OpenStore(const std::string& path, bool read_only);

// A writable open (creating the store when missing) with the given
// durability, for commands that offer a faster, weaker mode.
absl::StatusOr<std::unique_ptr<EventStore>> OpenStoreForWriting(const std::string& path,
                                                                Durability durability);

// Writes `value` to ctx.out: one compact line, or indented with --pretty.
// Invalid UTF-8 in strings is replaced (U+FFFD) rather than failing the
// output.
// Returns false once ctx.out has failed (e.g. `annals export | head` closed
// the pipe; ctx.output_errno says why), so that scans stop early.
bool WriteJson(CliContext& ctx, const Json& value);

// Flushes ctx.out and returns the exit code of a command whose output is
// done: kExitOk, also when the reader closed the pipe (shared/cli-contract.md:
// a closed stdout ends a listing with exit 0 and nothing on stderr); exit 1
// with a one-line error when stdout failed otherwise (a full disk, a closed
// descriptor), because then the output is incomplete and nobody chose that.
int FinishOutput(CliContext& ctx);

// JSON documents nested deeper than this are refused: nlohmann::json's
// dump() and comparisons recurse once per level, and 20,000 levels (40 KB)
// overflowed the stack of `append` under ASan, 100,000 without it (found by
// the event_json fuzzer). Stored payloads nested deeper are rendered as
// data_base64.
inline constexpr int kMaxJsonDepth = 512;

// Parses `text` as one JSON document; the result is_discarded() when it is
// not valid JSON or nests deeper than kMaxJsonDepth.
Json ParseJson(std::string_view text);

// How RenderEvent() writes a payload.
enum class RenderMode {
  // For people and scripts (read, all): "data" as JSON when possible.
  kDisplay,
  // For `import` (export): additionally "payload_base64" whenever "data"
  // alone would not reproduce the stored payload bytes exactly.
  kExport,
};

// The JSON object of one event (docs/cli.md, "Events as JSON").
Json RenderEvent(const EventView& event, const CliOptions& options, RenderMode mode);

// An export line for a record whose payload is sealed (crypto-shredding):
// the envelope, "subject", "sealed": {"cipher": C, "compression": "identity"
// or "zstd"} and the ciphertext as "payload_base64". `event` is the
// canonical view (payload as stored); keys never travel.
Json RenderSealedEvent(const EventView& event, uint8_t cipher, uint8_t compression,
                       const CliOptions& options);

// An event read from JSON: a line of `append`'s stdin or of an export
// (docs/cli.md). Owns every string that View() points into.
struct ParsedEvent {
  // Present when the JSON has them (import requires position and version).
  std::optional<uint64_t> position;
  std::optional<uint64_t> version;
  std::string stream;  // Empty when absent.
  Uuid id;             // Nil when absent.
  std::string type;
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;  // 0 when absent.
  std::string correlation_id;
  std::string causation_id;
  std::string subject;
  std::vector<std::pair<std::string, std::string>> metadata;
  ContentType content_type = ContentType::kJson;
  std::string payload;
  // The export's "hash" (lower-case hex), empty when absent.
  std::string hash_hex;
  // An export's "sealed" (crypto-shredding): the payload is the ciphertext
  // as stored, sealed by cipher `sealed_cipher` (0: not sealed) after
  // compression `sealed_compression` (0 identity, 1 zstd).
  uint8_t sealed_cipher = 0;
  uint8_t sealed_compression = 0;

  // A NewEvent viewing this object's strings: valid while this object is
  // neither moved nor destroyed. `keep_recorded_at` passes recorded_at_us on
  // (import); otherwise the store stamps the time of the append.
  NewEvent View(bool keep_recorded_at) const;

 private:
  mutable std::vector<MetadataEntry> metadata_views_;
};

// Parses one event object. kInvalidArgument names the offending field.
absl::StatusOr<ParsedEvent> ParseEvent(const Json& object);

// Adds the required <store> positional to `app`.
CLI::Option* AddStoreArg(CLI::App& app, std::string& store);

// Adds an option taking a non-negative integer (CLI11 alone would read "-1"
// into a uint64_t as a huge number).
CLI::Option* AddCount(CLI::App& app, const std::string& name, uint64_t& value,
                      const std::string& description);

}  // namespace annals::cli

#endif  // ANNALS_CLI_CLI_INTERNAL_H_
