// annals import <store> < export.jsonl
//
// Replays an export into a store, keeping ids, versions, positions and
// recorded_at. The store assigns positions itself, so an import works into a
// new (or empty) store, or one that holds a prefix of the same export: events
// already stored (same id at the same position, same hash) are skipped, so
// re-running an import adds nothing and an interrupted one can be resumed.
//
// All or nothing, in memory bounded by one batch (docs/cli.md, "import"):
//
//   * No store at the target (or an empty directory): the input is streamed
//     into a scratch store "<target>.importing-XXXXXX/store" next to the
//     target, in batches; after each batch the hashes the store computed are
//     compared with the export's. Only when every line was read and matched
//     is the scratch store synced, closed and renamed into place (and the
//     parent directory fsynced). On any failure the scratch directory is
//     removed: the target is not created. A killed import leaves its scratch
//     directory, which the next import of the same target removes (a running
//     import holds a flock on it).
//   * An existing store: pass 1 reads the input once and checks everything
//     without writing (lines, consecutive positions, the overlap with the
//     store, each stream's versions, unique ids, and the SHA-256 chain
//     recomputed from the store's last hash, per docs/format.md), copying the
//     new events' lines to an unlinked spool file next to the store. The
//     store stays open for writing (RocksDB's LOCK) throughout, so what
//     pass 1 checked still holds. Pass 2 does not write into the store: it
//     takes a RocksDB checkpoint of it (hard links: O(files), not O(data))
//     into a scratch directory "<target>.importing-XXXXXX/store" (as above),
//     appends the spooled events to that copy in batches, syncs and closes
//     it, closes the store, and exchanges the two directories with one
//     renameat2(RENAME_EXCHANGE); then the parent directories are fsynced and
//     the old store (now at the scratch path) is removed. Any failure before
//     the exchange removes the scratch directory and leaves the store's
//     contents as they were (the same events, verify's last_hash; its files
//     are RocksDB's to rewrite: opening it and the checkpoint's flush do); a
//     crash leaves the store either as it was or fully
//     imported, plus the scratch directory, which the next import removes.
//     Why each step is safe: AppendIntoCheckpointAndExchange().
//   * A file system without RENAME_EXCHANGE (EINVAL/ENOSYS/ENOTSUP, probed
//     before pass 2, e.g. NFS): import says so on stderr and appends the
//     spooled events to the store itself in batches, as before; a failure
//     there is an I/O error or a crash, which leaves a prefix of the export
//     that re-running import completes (it skips what is stored).
//   * Test hooks (environment, for tests/cli/import_test.cc only):
//     ANNALS_TEST_IMPORT_FAIL_AFTER_BATCHES=N fails pass 2 before batch N+1;
//     ANNALS_TEST_IMPORT_NO_EXCHANGE=1 takes the path without the exchange.
//
// Thread-safety: runs on the CLI's thread; nothing here is shared.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <istream>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/cord.h"
#include "cli/cli_internal.h"
#include "codec/internal/payload_cipher.h"
#include "common/coding.h"
#include "common/mutex.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/store_access.h"
#include "rocksdb/utilities/checkpoint.h"

namespace annals::cli {
namespace {

namespace fs = std::filesystem;

// Batch limits: large enough that the fsync per batch is amortized, far below
// Options::max_append_bytes and max_group_commit_bytes. Memory is bounded by
// one batch (plus one event of up to Options::max_event_bytes).
constexpr size_t kBatchEvents = 2000;
constexpr size_t kBatchBytes = 4u << 20;
// Checked before writing so that no batch fails validation after earlier
// batches were stored (limits of EventStore::Append and Options defaults).
constexpr size_t kMaxStreamBytes = 512;
constexpr size_t kMaxTypeBytes = 256;

constexpr std::string_view kScratchInfix = ".importing-";

// TEST HOOK, for tests/cli/import_test.cc only: when set to N, an import into
// an existing store fails in pass 2 (the writes into the checkpoint) before
// its batch N+1, as an I/O error there would. Not a user option.
constexpr const char* kFailHookEnv = "ANNALS_TEST_IMPORT_FAIL_AFTER_BATCHES";
// TEST HOOK: when set (non-empty), behave as on a file system without
// RENAME_EXCHANGE (the in-place pass 2), so that tests can reach that path.
constexpr const char* kNoExchangeHookEnv = "ANNALS_TEST_IMPORT_NO_EXCHANGE";

// The value of the failure hook, -1 when unset.
long FailAfterBatchesHook() {
  const char* hook = std::getenv(kFailHookEnv);
  if (hook == nullptr || *hook == '\0') return -1;
  return std::strtol(hook, nullptr, 10);
}

struct ImportArgs {
  std::string store;
  bool buffered = false;
};

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("import line ", line, ": ", what));
}

std::string ErrnoText(int error) { return std::strerror(error); }

// Marks a kDataLoss that names an altered export, not a damaged store.
constexpr std::string_view kTamperedPayload = "annals.import/tampered";

absl::Status Tampered(std::string_view what) {
  absl::Status s = absl::DataLossError(StrCat(
      what,
      ": the export was altered after it was written, or the store's history before it differs "
      "from the exported store's"));
  s.SetPayload(Sv(kTamperedPayload), absl::Cord());
  return s;
}

// ---------------------------------------------------------------------------
// Input: lines, events, batches.

// Lines of text, from stdin or from the spool file.
class LineSource {
 public:
  virtual ~LineSource() = default;
  // Reads the next line (without its '\n') into `line`; false at the end.
  virtual bool Next(std::string& line) = 0;
  // Non-OK when reading failed rather than ended.
  virtual absl::Status status() const = 0;
};

class StreamLines : public LineSource {
 public:
  explicit StreamLines(std::istream& in) : in_(in) {}
  bool Next(std::string& line) override { return static_cast<bool>(std::getline(in_, line)); }
  absl::Status status() const override {
    if (in_.bad()) return absl::UnavailableError("reading stdin failed; nothing was imported");
    return absl::OkStatus();
  }

 private:
  std::istream& in_;
};

// Reads a FILE* it does not own.
class FileLines : public LineSource {
 public:
  explicit FileLines(FILE* file) : file_(file) {}
  ~FileLines() override { std::free(buffer_); }
  FileLines(const FileLines&) = delete;
  FileLines& operator=(const FileLines&) = delete;

  bool Next(std::string& line) override {
    ssize_t n = ::getline(&buffer_, &capacity_, file_);
    if (n < 0) {
      failed_ = std::ferror(file_) != 0;
      return false;
    }
    if (n > 0 && buffer_[n - 1] == '\n') --n;
    line.assign(buffer_, static_cast<size_t>(n));
    return true;
  }
  absl::Status status() const override {
    if (failed_) return absl::UnavailableError("reading the import's spool file failed");
    return absl::OkStatus();
  }

 private:
  FILE* file_;
  char* buffer_ = nullptr;
  size_t capacity_ = 0;
  bool failed_ = false;
};

// Parses and checks an export one event at a time (memory: one line).
class ExportReader {
 public:
  explicit ExportReader(LineSource& lines) : lines_(lines) {}

  // Reads the next event into `e`; false at the end of the input.
  absl::StatusOr<bool> Next(ParsedEvent& e) {
    while (lines_.Next(text_)) {
      ++line_;
      if (text_.find_first_not_of(" \t\r") == std::string::npos) continue;
      absl::Status parsed = Parse(e);
      if (!parsed.ok()) return parsed;
      last_position_ = *e.position;
      return true;
    }
    if (absl::Status s = lines_.status(); !s.ok()) return s;
    return false;
  }

  // The text and line number of the event Next() returned last.
  const std::string& text() const { return text_; }
  size_t line() const { return line_; }

 private:
  absl::Status Parse(ParsedEvent& out) {
    Json object = ParseJson(text_);
    if (object.is_discarded()) {
      return LineError(line_, "not valid JSON (expected annals export lines)");
    }
    if (object.is_object() && object.contains("scavenged")) {
      // Import does not write stubs yet (docs/lifecycle.md, "Scavenging").
      return LineError(line_,
                       "a scavenged event (a stub of an export of a scavenged store): "
                       "import cannot write stubs yet; import an export made before "
                       "the scavenge");
    }
    absl::StatusOr<ParsedEvent> e = ParseEvent(object);
    if (!e.ok()) return LineError(line_, StdSv(e.status().message()));
    for (const char* field : {"position", "version", "stream", "id", "recorded_at"}) {
      if (!object.contains(field)) {
        return LineError(line_, StrCat("field \"", field,
                                       "\" is required by import (use the output of annals "
                                       "export)"));
      }
    }
    if (*e->position == 0 || *e->version == 0) {
      return LineError(line_, "position and version start at 1");
    }
    if (e->id.is_nil() || e->recorded_at_us == 0) {
      return LineError(line_, "id and recorded_at must not be null: import keeps them");
    }
    if (last_position_ != 0 && *e->position != last_position_ + 1) {
      return LineError(line_, StrCat("position ", *e->position, " does not follow position ",
                                     last_position_, "; an export lists consecutive positions"));
    }
    if (e->stream.empty() || e->stream.size() > kMaxStreamBytes || e->stream.front() == '$') {
      return LineError(line_, StrCat("stream name '", e->stream, "' is not accepted by annals"));
    }
    if (e->type.empty() || e->type.size() > kMaxTypeBytes) {
      return LineError(line_, "type must be 1 to 256 bytes");
    }
    out = std::move(*e);
    return absl::OkStatus();
  }

  LineSource& lines_;
  std::string text_;
  size_t line_ = 0;
  uint64_t last_position_ = 0;  // 0 before the first event.
};

// Groups consecutive events into batches for one AppendMulti each: up to
// kBatchEvents / kBatchBytes, ending before a stream that would reappear in a
// second part (AppendMulti names each stream once).
class Batcher {
 public:
  explicit Batcher(ExportReader& reader) : reader_(reader) {}

  // Fills `batch` with the next batch; leaves it empty at the end.
  absl::Status Next(std::vector<ParsedEvent>& batch) {
    batch.clear();
    streams_.clear();
    size_t bytes = 0;
    while (true) {
      ParsedEvent e;
      if (pending_.has_value()) {
        e = std::move(*pending_);
        pending_.reset();
      } else {
        absl::StatusOr<bool> more = reader_.Next(e);
        if (!more.ok()) return more.status();
        if (!*more) return absl::OkStatus();
      }
      const bool continues = !batch.empty() && batch.back().stream == e.stream;
      if (!batch.empty() && (batch.size() >= kBatchEvents || bytes >= kBatchBytes ||
                             (!continues && streams_.contains(e.stream)))) {
        pending_ = std::move(e);
        return absl::OkStatus();
      }
      if (!continues) streams_.insert(e.stream);
      bytes += e.payload.size() + e.type.size() + e.stream.size();
      batch.push_back(std::move(e));
    }
  }

 private:
  ExportReader& reader_;
  std::optional<ParsedEvent> pending_;
  absl::flat_hash_set<std::string> streams_;
};

// ---------------------------------------------------------------------------
// Checks and writes.

// The SHA-256 chain of docs/format.md ("Canonical bytes, checksum and hash
// chain"), computed from an export's fields before anything is written. It is
// written here from the published format, as an auditor's tool would, rather
// than shared with the store's encoder (the CLI uses only the public API);
// every written batch is also compared with the hashes the store itself
// computed, so the two cannot diverge unnoticed.
class ChainHasher {
 public:
  // SHA-256(prev || canonical(e)), 32 raw bytes.
  std::string Next(std::string_view prev, const ParsedEvent& e) {
    sha_.Reset();
    sha_.Update(prev.data(), prev.size());
    // "ANR3" for an event with a subject (format 4), "ANR2" for a sealed
    // one without, "ANR1" otherwise.
    const bool v3 = !e.subject.empty();
    const bool sealed = e.sealed_cipher != 0;
    sha_.Update(v3 ? "ANR3" : sealed ? "ANR2" : "ANR1", 4);
    U64(*e.position);
    Str(e.stream);
    U64(*e.version);
    sha_.Update(e.id.bytes().data(), 16);
    Str(e.type);
    U32(e.schema_version);
    U64(static_cast<uint64_t>(e.recorded_at_us));
    Str(e.correlation_id);
    Str(e.causation_id);
    U32(static_cast<uint32_t>(e.metadata.size()));
    for (const auto& [k, v] : e.metadata) {
      Str(k);
      Str(v);
    }
    const uint8_t content_type = static_cast<uint8_t>(e.content_type);
    sha_.Update(&content_type, 1);
    if (v3 || sealed) {
      const char markers[2] = {static_cast<char>(e.sealed_compression),
                               static_cast<char>(e.sealed_cipher)};
      sha_.Update(markers, 2);
    }
    if (v3) Str(e.subject);
    Str(e.payload);
    const Sha256::Digest digest = sha_.Finish();
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
  }

 private:
  void U64(uint64_t v) {
    char b[8];
    coding::EncodeBigEndian64(b, v);
    sha_.Update(b, 8);
  }
  void U32(uint32_t v) {
    char b[4];
    coding::EncodeBigEndian32(b, v);
    sha_.Update(b, 4);
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    sha_.Update(s.data(), s.size());
  }

  Sha256 sha_;
};

// Checks that the store's events at the positions the export shares with it
// are the export's own events.
// Stores the sealed events of an export as they are (ciphertext and
// markers), so that they hash as in the store they came from; the key is
// not needed and not used. Installed in every store import writes; reads
// of the sealed events it wrote see them as erased (it opens nothing),
// which is all the import's read-back needs (ids and hashes).
class SealedPassThrough : public codec_internal::PayloadCipher {
 public:
  uint8_t id() const override { return 1; }
  absl::StatusOr<bool> Seal(const EventView&, std::string_view, std::string*) override {
    return false;  // An event not sealed in the export stays unsealed.
  }
  absl::Status Open(const EventView&, std::string_view, std::string*) const override {
    return absl::NotFoundError("import does not open sealed payloads");
  }
  std::optional<codec_internal::StoredCompression> PassThrough(
      const EventView& envelope) const override {
    auto it = sealed_.find(envelope.id);
    if (it == sealed_.end()) return std::nullopt;
    return static_cast<codec_internal::StoredCompression>(it->second);
  }
  // The sealed events of the batch about to be appended.
  void Set(absl::Span<const ParsedEvent> batch) {
    sealed_.clear();
    for (const ParsedEvent& e : batch) {
      if (e.sealed_cipher != 0) sealed_[e.id] = e.sealed_compression;
    }
  }

 private:
  absl::flat_hash_map<Uuid, uint8_t> sealed_;
};

// The pass-through of each store open for import, by address (set anew by
// every OpenImportStore(), so a later store at the same address gets its own).
Mutex pass_through_mu;
absl::flat_hash_map<EventStore*, std::shared_ptr<SealedPassThrough>>& PassThroughs()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(pass_through_mu) {
  static auto* of = new absl::flat_hash_map<EventStore*, std::shared_ptr<SealedPassThrough>>();
  return *of;
}

SealedPassThrough& PassThroughOf(EventStore& store) {
  MutexLock lock(&pass_through_mu);
  return *PassThroughs().at(&store);
}

// OpenStoreForWriting() with the pass-through installed before any read or
// append.
absl::StatusOr<std::unique_ptr<EventStore>> OpenImportStore(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<EventStore> store,
                   OpenStoreForWriting(path, Durability::kBuffered));
  auto p = std::make_shared<SealedPassThrough>();
  internal::StoreAccess::SetPayloadCipher(*store, p);
  MutexLock lock(&pass_through_mu);
  PassThroughs()[store.get()] = std::move(p);
  return store;
}

absl::Status CheckOverlap(EventStore& store, absl::Span<const ParsedEvent> overlap) {
  if (overlap.empty()) return absl::OkStatus();
  ReadAllOptions options;
  options.from_position = *overlap.front().position;
  options.limit = overlap.size();
  size_t i = 0;
  absl::Status mismatch;
  absl::Status scan = store.ScanAll(options, [&](const EventView& e) {
    const ParsedEvent& x = overlap[i++];
    if (e.position != *x.position || e.id != x.id || e.stream != x.stream ||
        e.version != *x.version || (!x.hash_hex.empty() && HexEncode(e.hash) != x.hash_hex)) {
      mismatch = absl::FailedPreconditionError(
          StrCat("the store differs from the export at position ", *x.position,
                 " (store: ", e.id.ToString(), " = '", e.stream, "' version ", e.version,
                 "; export: ", x.id.ToString(), " = '", x.stream, "' version ", *x.version,
                 "); import only into a new store or one holding a prefix of this export"));
      return false;
    }
    return true;
  });
  if (!scan.ok()) return scan;
  if (!mismatch.ok()) return mismatch;
  if (i != overlap.size()) {
    return absl::DataLossError(
        StrCat("the store ends before position ", *overlap[i].position, " that it claims to hold"));
  }
  return absl::OkStatus();
}

// `s` with `context` added to its message (payloads kept).
absl::Status WithContext(const absl::Status& s, std::string_view context) {
  absl::Status result(s.code(), StrCat(s.message(), context));
  s.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { result.SetPayload(url, payload); });
  return result;
}

// Appends `batch` (the next positions of the store) with one AppendMulti,
// then compares the hashes the store computed with the export's: kDataLoss on
// the first difference.
absl::Status AppendBatch(EventStore& store, absl::Span<const ParsedEvent> batch) {
  if (batch.empty()) return absl::OkStatus();
  const uint64_t first = *batch.front().position;
  const uint64_t last = *batch.back().position;
  if (store.last_position() + 1 != first) {
    return absl::InternalError(StrCat("the store ends at position ", store.last_position(),
                                      " but the next event to import is position ", first,
                                      "; was the store written to during the import?"));
  }
  std::vector<NewEvent> views;
  views.reserve(batch.size());
  std::vector<StreamAppend> parts;
  size_t begin = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    views.push_back(batch[i].View(/*keep_recorded_at=*/true));
    if (i + 1 == batch.size() || batch[i + 1].stream != batch[i].stream) {
      parts.push_back(StreamAppend{batch[begin].stream,
                                   ExpectedVersion::Exact(*batch[begin].version - 1),
                                   absl::Span<const NewEvent>()});
      parts.back().events = absl::Span<const NewEvent>(views).subspan(begin, i + 1 - begin);
      begin = i + 1;
    }
  }
  const std::string where = StrCat(" (positions ", first, "..", last, " of the export)");
  PassThroughOf(store).Set(batch);
  absl::StatusOr<std::vector<AppendResult>> results = store.AppendMulti(parts);
  if (!results.ok()) {
    if (results.status().code() == absl::StatusCode::kAborted) {
      // Not exit 3: the input, not a caller's expectation, is wrong.
      return absl::FailedPreconditionError(
          StrCat(results.status().message(), where,
                 ": the export's versions do not continue the store's streams; the export is "
                 "incomplete or the store is not a prefix of it"));
    }
    return WithContext(results.status(), where);
  }
  uint64_t position = first;
  for (size_t i = 0; i < parts.size(); ++i) {
    const AppendResult& r = (*results)[i];
    if (r.idempotent_replay || r.first_position != position) {
      return absl::FailedPreconditionError(
          StrCat("the events of '", parts[i].stream, "' at position ", position,
                 " of the export are already stored at position ", r.first_position,
                 " (same ids); an export lists every event once"));
    }
    position = r.last_position + 1;
  }

  ReadAllOptions options;
  options.from_position = first;
  options.limit = batch.size();
  size_t i = 0;
  absl::Status mismatch;
  absl::Status scan = store.ScanAll(options, [&](const EventView& e) {
    const ParsedEvent& x = batch[i++];
    if (e.position != *x.position) {
      mismatch = absl::InternalError(
          StrCat("read position ", e.position, " back for position ", *x.position));
      return false;
    }
    if (!x.hash_hex.empty() && HexEncode(e.hash) != x.hash_hex) {
      mismatch = Tampered(StrCat("the event at position ", e.position, " hashes to ",
                                 HexEncode(e.hash), " but the export says ", x.hash_hex));
      return false;
    }
    return true;
  });
  if (!scan.ok()) return scan;
  if (!mismatch.ok()) return mismatch;
  if (i != batch.size()) {
    return absl::DataLossError(
        StrCat("reading back positions ", first, "..", last, " returned ", i, " events"));
  }
  return absl::OkStatus();
}

struct Imported {
  uint64_t imported = 0;
  uint64_t skipped = 0;
  uint64_t last_position = 0;
};

// Appends every event `reader` yields, in batches.
// `fail_after_batches` (>= 0) is the test hook of ImportIntoExistingStore:
// fail with kUnavailable once that many batches were written.
absl::Status AppendAll(EventStore& store, ExportReader& reader, uint64_t& imported,
                       long fail_after_batches = -1) {
  Batcher batcher(reader);
  std::vector<ParsedEvent> batch;
  for (long written = 0;; ++written) {
    if (absl::Status s = batcher.Next(batch); !s.ok()) return s;
    if (batch.empty()) return absl::OkStatus();
    if (written == fail_after_batches) {
      return absl::UnavailableError(
          StrCat("injected failure after ", written, " batches (test hook ", kFailHookEnv, ")"));
    }
    if (absl::Status s = AppendBatch(store, batch); !s.ok()) return s;
    imported += batch.size();
  }
}

// ---------------------------------------------------------------------------
// Directories.

absl::Status SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        StrCat("cannot open directory '", dir.string(), "' to sync it: ", ErrnoText(errno)));
  }
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::InternalError(
        StrCat("cannot sync directory '", dir.string(), "': ", ErrnoText(error)));
  }
  return absl::OkStatus();
}

// A scratch directory "<parent>/<name>.importing-XXXXXX" with the new store
// in it, flock-ed while this import runs (so that other imports can tell a
// live one from a killed one's leftover). Removed by Remove() or on
// destruction.
class ScratchDir {
 public:
  ScratchDir() = default;
  ~ScratchDir() { Remove(); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  absl::Status Create(const fs::path& parent, const std::string& name) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      std::string tmpl = (parent / StrCat(name, kScratchInfix, "XXXXXX")).string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return absl::InternalError(StrCat("cannot create a scratch directory next to '",
                                          (parent / name).string(),
                                          "' (is the directory writable?): ", ErrnoText(errno)));
      }
      const int fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      struct stat st;
      // Another import's RemoveStale() may have taken it between mkdtemp and
      // flock: then it is gone (no links) and we try a new name.
      if (fd >= 0 && ::flock(fd, LOCK_EX) == 0 && ::fstat(fd, &st) == 0 && st.st_nlink > 0) {
        fd_ = fd;
        path_ = tmpl;
        return absl::OkStatus();
      }
      if (fd >= 0) ::close(fd);
    }
    return absl::InternalError(
        StrCat("cannot create a scratch directory next to '", (parent / name).string(), "'"));
  }

  // Removes the scratch directories of imports of `name` that were killed:
  // those whose flock nobody holds.
  static void RemoveStale(const fs::path& parent, const std::string& name) {
    const std::string prefix = StrCat(name, kScratchInfix);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      if (!entry.path().filename().string().starts_with(prefix)) continue;
      const int fd = ::open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        std::error_code remove_ec;
        fs::remove_all(entry.path(), remove_ec);
      }
      ::close(fd);
    }
  }

  // Removes the directory and everything in it; idempotent.
  void Remove() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
      path_.clear();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  fs::path store() const { return path_ / "store"; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
};

// Whether renameat2(RENAME_EXCHANGE) works on the file system of `dir` (a
// fresh scratch directory): exchanges two empty directories made in it.
// False for EINVAL/ENOSYS/ENOTSUP (a file system or kernel without it).
absl::StatusOr<bool> CanExchangeIn(const fs::path& dir) {
  const fs::path a = dir / "exchange-probe-a";
  const fs::path b = dir / "exchange-probe-b";
  if (::mkdir(a.c_str(), 0700) != 0 || ::mkdir(b.c_str(), 0700) != 0) {
    return absl::InternalError(
        StrCat("cannot create directories in '", dir.string(), "': ", ErrnoText(errno)));
  }
  const int rc = ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
  const int error = errno;
  ::rmdir(a.c_str());
  ::rmdir(b.c_str());
  if (rc == 0) return true;
  if (error == EINVAL || error == ENOSYS || error == ENOTSUP) return false;
  return absl::InternalError(StrCat("renameat2 in '", dir.string(), "': ", ErrnoText(error)));
}

// Takes an open-file-description lock (F_OFD_SETLK, write, whole file) on
// the store's RocksDB LOCK file: RocksDB 7.8 locks that file with
// fcntl(F_SETLK) (env/fs_posix.cc, LockOrUnlock), a process-associated
// record lock, and the kernel makes OFD locks and process-associated locks
// conflict whoever holds them. So while this fd is open no RocksDB can open
// the store for writing, and it fails (no waiting) if one has it open.
// Returns the fd, or -1 when the lock is held by someone else.
absl::StatusOr<int> LockStoreLockFile(const fs::path& store_dir) {
  const fs::path lock = store_dir / "LOCK";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(StrCat("cannot open '", lock.string(), "': ", ErrnoText(errno)));
  }
  struct flock f = {};
  f.l_type = F_WRLCK;
  f.l_whence = SEEK_SET;
  f.l_start = 0;
  f.l_len = 0;
  if (::fcntl(fd, F_OFD_SETLK, &f) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EAGAIN || error == EACCES) return -1;
    return absl::InternalError(StrCat("cannot lock '", lock.string(), "': ", ErrnoText(error)));
  }
  return fd;
}

// The identity of the store's CURRENT file: its inode and contents. RocksDB
// rewrites CURRENT (a new file renamed over it: a new inode) whenever a
// writer opens the store (every open starts a new MANIFEST), so an unchanged
// identity means no writer opened the store in between.
std::string CurrentIdentity(const fs::path& store_dir) {
  const fs::path current = store_dir / "CURRENT";
  struct stat st;
  if (::stat(current.c_str(), &st) != 0) return "";
  std::string id = StrCat(st.st_dev, ":", st.st_ino, ":");
  if (FILE* f = std::fopen(current.c_str(), "r"); f != nullptr) {
    char buffer[256];
    const size_t n = std::fread(buffer, 1, sizeof(buffer), f);
    std::fclose(f);
    id.append(buffer, n);
  }
  return id;
}

// Pass 2 of an import into an existing store, all or nothing: the spooled
// events are appended to a checkpoint of the store in a scratch directory,
// which then takes the store's place by an atomic exchange. `owner` is the
// store, open for writing since pass 1; it is closed here. `exchanged` is set
// once the copy has taken the store's place (an error after that is not
// "nothing was imported").
absl::Status AppendIntoCheckpointAndExchange(std::unique_ptr<EventStore>& owner, FILE* spool,
                                             const fs::path& target, ScratchDir& scratch,
                                             const ImportArgs& a, Imported& result,
                                             bool& exchanged) {
  // 1. A checkpoint of the store, taken while it is still open for writing
  // (nobody else can write it). RocksDB 7.8 (utilities/checkpoint/
  // checkpoint_impl.cc, db/db_filesnapshot.cc): log_size_for_flush 0 flushes
  // the memtables first, then hard-links the live SST files (the same file
  // system: the scratch directory is next to the store), copies MANIFEST and
  // OPTIONS and writes CURRENT (synced: file/file_util.cc), hard-links the
  // live WAL files but the last and copies the last one; it builds all that
  // in "<dir>.tmp", renames it to <dir> and fsyncs. Hard-linked files are
  // shared with the store, which is safe because RocksDB never writes an SST
  // or an old WAL again (annals sets recycle_log_file_num = 0,
  // eventstore/rocksdb_options.cc): the copy only adds new files and unlinks
  // its own names. Everything in a store directory is RocksDB's (annals
  // writes no other file there; its info log is not in the directory).
  {
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::DB* db = internal::StoreAccess::Db(*owner);
    if (rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw); !s.ok()) {
      return internal::FromRocksDb(s, "creating a checkpoint of the store");
    }
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    rocksdb::Status s = checkpoint->CreateCheckpoint(scratch.store().string(),
                                                     /*log_size_for_flush=*/0);
    if (!s.ok()) {
      return internal::FromRocksDb(
          s, StrCat("copying the store to '", scratch.store().string(), "' (hard links)"));
    }
  }

  // 2. Pass 2 into the copy.
  const long fail_after = FailAfterBatchesHook();
  {
    absl::StatusOr<std::unique_ptr<EventStore>> opened = OpenImportStore(scratch.store().string());
    if (!opened.ok()) return opened.status();
    EventStore& copy = **opened;
    FileLines spooled(spool);
    ExportReader again(spooled);
    RETURN_IF_ERROR(AppendAll(copy, again, result.imported, fail_after));
    if (!a.buffered) RETURN_IF_ERROR(copy.Sync());
    result.last_position = copy.last_position();
  }  // Closes the copy: it is complete before it moves.
  // The copy's directory was made by RocksDB (0755 less the umask): give it
  // the store's permission bits (owner and group stay the importer's).
  if (struct stat st; ::stat(target.c_str(), &st) == 0) {
    if (::chmod(scratch.store().c_str(), st.st_mode & 07777) != 0) {
      return absl::InternalError(StrCat("cannot set the permissions of '", scratch.store().string(),
                                        "': ", ErrnoText(errno)));
    }
  }
  RETURN_IF_ERROR(SyncDirectory(scratch.store()));

  // 3. Close the store before the exchange. Closing a RocksDB 7.8 database
  // writes by path, not only through open fds (db/db_impl/db_impl.cc,
  // CloseHelper): CancelAllBackgroundWork may flush memtables into new SST
  // files named <dbname>/NNNNNN.sst, and FindObsoleteFiles(full scan) +
  // PurgeObsoleteFiles delete every file in <dbname> the database does not
  // know. After the exchange <dbname> is the copy, whose newer files the old
  // database does not know (and whose file numbers it shares): closing it
  // then would delete or overwrite the copy's files. So it is closed first.
  // Its LOCK goes with it; an OFD lock on the same LOCK file keeps other
  // writers out until the exchange is done (LockStoreLockFile), and the
  // identity of CURRENT taken before the close tells whether one got in
  // between close and lock (then nothing is exchanged). Closing writes no
  // new CURRENT (a flush appends to the MANIFEST; a roll-over past
  // max_manifest_file_size would, and then the import stops, safely).
  const std::string current = CurrentIdentity(target);
  owner.reset();
  absl::StatusOr<int> lock_fd = LockStoreLockFile(target);
  if (!lock_fd.ok()) return lock_fd.status();
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_lock{*lock_fd};
  if (*lock_fd < 0 || current.empty() || CurrentIdentity(target) != current) {
    return absl::AbortedError(
        StrCat("another process opened '", target.string(),
               "' for writing during the import; the store is as that process left it"));
  }

  // 4. The exchange: one atomic step, after which <target> is the copy and
  // the scratch path names the old store. A crash before it leaves the
  // store as it was, and after it the complete import; either way only the
  // scratch directory is left over (the next import removes it).
  if (::renameat2(AT_FDCWD, scratch.store().c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) !=
      0) {
    return absl::InternalError(StrCat("cannot exchange '", scratch.store().string(), "' and '",
                                      target.string(), "': ", ErrnoText(errno)));
  }
  // Both directories' entries changed: sync both before the old store goes.
  absl::Status synced = SyncDirectory(target.parent_path());
  if (synced.ok()) synced = SyncDirectory(scratch.path());
  scratch.Remove();
  exchanged = true;
  if (!synced.ok()) {
    return absl::InternalError(StrCat(synced.message(),
                                      "; the store holds the import but may not survive a "
                                      "power loss: run 'annals verify' on it, re-run import"));
  }
  return absl::OkStatus();
}

// The target as an absolute path without a trailing '/'.
fs::path TargetPath(const std::string& store) {
  std::error_code ec;
  fs::path target = fs::absolute(store, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  return target;
}

// ---------------------------------------------------------------------------
// The two cases.

// Into a target that does not exist (or is an empty directory): a scratch
// store renamed into place when everything matched.
absl::StatusOr<Imported> ImportIntoNewStore(CliContext& ctx, const ImportArgs& a,
                                            const fs::path& target) {
  const fs::path parent = target.parent_path();
  const std::string name = target.filename().string();
  std::error_code ec;
  // Like EventStore::Open, create one missing level of parent directory; it
  // is removed again if the import fails.
  bool created_parent = false;
  if (!fs::exists(parent, ec)) {
    if (::mkdir(parent.c_str(), 0755) != 0) {
      return absl::InvalidArgumentError(
          StrCat("cannot create directory '", parent.string(), "': ", ErrnoText(errno)));
    }
    created_parent = true;
  }
  struct RemoveParent {
    const fs::path& parent;
    bool& armed;
    ~RemoveParent() {
      if (armed) ::rmdir(parent.c_str());
    }
  } remove_parent{parent, created_parent};

  ScratchDir::RemoveStale(parent, name);
  ScratchDir scratch;
  if (absl::Status s = scratch.Create(parent, name); !s.ok()) return s;

  Imported result;
  {
    // Batches are written buffered and made durable by one Sync() at the end:
    // an fsync per batch made interleaved logs, which split into many small
    // batches, about 15x slower to import.
    absl::StatusOr<std::unique_ptr<EventStore>> opened = OpenImportStore(scratch.store().string());
    if (!opened.ok()) return opened.status();
    EventStore& store = **opened;
    StreamLines lines(ctx.in);
    ExportReader reader(lines);
    if (absl::Status s = AppendAll(store, reader, result.imported); !s.ok()) return s;
    if (!a.buffered) {
      if (absl::Status s = store.Sync(); !s.ok()) return s;
    }
    result.last_position = store.last_position();
  }  // Closes the store before it moves.
  if (absl::Status s = SyncDirectory(scratch.store()); !s.ok()) return s;

  // rename(2) replaces an empty directory at `target` and fails on a
  // non-empty one: a store created there meanwhile is never overwritten.
  if (::rename(scratch.store().c_str(), target.c_str()) != 0) {
    const int error = errno;
    if (error == ENOTEMPTY || error == EEXIST) {
      return absl::FailedPreconditionError(
          StrCat("'", target.string(),
                 "' was created by another process during the import; re-run "
                 "import to add the export to that store"));
    }
    return absl::InternalError(StrCat("cannot move the imported store into place at '",
                                      target.string(), "': ", ErrnoText(error)));
  }
  created_parent = false;
  // The scratch directory (now empty) goes before the parent is synced, so
  // the sync covers both entries.
  scratch.Remove();
  if (absl::Status s = SyncDirectory(parent); !s.ok()) {
    return absl::InternalError(StrCat(s.message(),
                                      "; the store is in place but may not survive a "
                                      "power loss: run 'annals verify' on it, re-run import"));
  }
  return result;
}

// Into an existing store: check everything while spooling, then append.
absl::StatusOr<Imported> ImportIntoExistingStore(CliContext& ctx, const ImportArgs& a,
                                                 const fs::path& given) {
  // The real directory: the scratch copy must be made next to it (the same
  // file system, for hard links and the exchange), and a symlink to the
  // store stays one.
  std::error_code ec;
  fs::path target = fs::canonical(given, ec);
  if (ec) target = given;
  absl::StatusOr<std::unique_ptr<EventStore>> opened = OpenImportStore(target.string());
  if (!opened.ok()) return opened.status();
  std::unique_ptr<EventStore> owner = std::move(*opened);
  EventStore& store = *owner;
  const uint64_t stored = store.last_position();

  // The chain continues from the store's last hash.
  std::string prev_hash(Sha256::kSize, '\0');
  if (stored > 0) {
    ReadAllOptions last;
    last.from_position = stored;
    last.limit = 1;
    absl::Status scan = store.ScanAll(last, [&](const EventView& e) {
      prev_hash.assign(e.hash.data(), e.hash.size());
      return false;
    });
    if (!scan.ok()) return scan;
  }

  // Pass 1: check every line, spool the new events' lines. The spool is
  // unlinked at once, so not even a crash leaves it behind.
  FILE* spool = nullptr;
  struct CloseSpool {
    FILE*& file;
    ~CloseSpool() {
      if (file != nullptr) std::fclose(file);
    }
  } close_spool{spool};
  Imported result;
  absl::Status checked = [&]() -> absl::Status {
    StreamLines lines(ctx.in);
    ExportReader reader(lines);
    ChainHasher chain;
    absl::flat_hash_map<std::string, uint64_t> versions;  // Stream -> last version.
    // Every id of the input: a repeated one would fail in pass 2, after
    // earlier batches were written. 16 bytes per event (the only memory that
    // grows with the input).
    absl::flat_hash_set<Uuid> ids;
    std::vector<ParsedEvent> overlap;
    auto check_overlap = [&]() -> absl::Status {
      absl::Status s = CheckOverlap(store, overlap);
      result.skipped += overlap.size();
      overlap.clear();
      return s;
    };
    bool first = true;
    while (true) {
      ParsedEvent e;
      absl::StatusOr<bool> more = reader.Next(e);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (first && *e.position > stored + 1) {
        return absl::FailedPreconditionError(
            StrCat("the export starts at position ", *e.position, " but the store ends at ", stored,
                   "; import positions ", stored + 1, "..", *e.position - 1,
                   " first (annals export --from)"));
      }
      first = false;
      if (!ids.insert(e.id).second) {
        return LineError(reader.line(), StrCat("event id ", e.id.ToString(), " appears twice"));
      }
      if (*e.position <= stored) {
        overlap.push_back(std::move(e));
        if (overlap.size() >= kBatchEvents) RETURN_IF_ERROR(check_overlap());
        continue;
      }
      RETURN_IF_ERROR(check_overlap());
      // A new event whose id the store already holds (at a position before
      // the input's first, which pass 1 does not see) would make pass 2 fail
      // after earlier batches were written: found here, before writing. One
      // point lookup per new event (the id family's bloom filter answers most).
      if (absl::StatusOr<RecordedEvent> held = store.ReadEvent(e.id); held.ok()) {
        return absl::AlreadyExistsError(
            StrCat("import line ", reader.line(), ": event id ", e.id.ToString(), " (position ",
                   *e.position, " of the export) is already stored at position ", held->position,
                   " (version ", held->version, " of '", held->stream,
                   "'); the export is not a continuation of this store"));
      } else if (held.status().code() != absl::StatusCode::kNotFound) {
        return held.status();
      }

      auto it = versions.find(e.stream);
      if (it == versions.end()) {
        uint64_t version = 0;
        absl::StatusOr<StreamInfo> info = store.GetStream(e.stream);
        if (info.ok()) {
          version = info->version;
        } else if (info.status().code() != absl::StatusCode::kNotFound) {
          return info.status();
        }
        it = versions.emplace(e.stream, version).first;
      }
      if (*e.version != it->second + 1) {
        return absl::FailedPreconditionError(
            StrCat("event at position ", *e.position, " is version ", *e.version, " of '", e.stream,
                   "' but that stream is at version ", it->second,
                   " in the store; the export is incomplete or the store is not a prefix of it"));
      }
      it->second = *e.version;
      prev_hash = chain.Next(prev_hash, e);
      if (!e.hash_hex.empty() && HexEncode(prev_hash) != e.hash_hex) {
        return Tampered(StrCat("import line ", reader.line(), ": the event at position ",
                               *e.position, " hashes to ", HexEncode(prev_hash),
                               " but the export says ", e.hash_hex));
      }
      if (spool == nullptr) {
        std::string tmpl =
            (target.parent_path() / StrCat(".", target.filename().string(), ".import-spool-XXXXXX"))
                .string();
        const int fd = ::mkstemp(tmpl.data());
        if (fd < 0) {
          return absl::InternalError(StrCat("cannot create a spool file next to '", target.string(),
                                            "': ", ErrnoText(errno)));
        }
        ::unlink(tmpl.c_str());
        spool = ::fdopen(fd, "w+");
        if (spool == nullptr) {
          ::close(fd);
          return absl::InternalError(StrCat("cannot open the spool file: ", ErrnoText(errno)));
        }
      }
      const std::string& text = reader.text();
      if (std::fwrite(text.data(), 1, text.size(), spool) != text.size() ||
          std::fputc('\n', spool) == EOF) {
        return absl::InternalError(StrCat("cannot write the spool file next to '", target.string(),
                                          "' (disk full?): ", ErrnoText(errno)));
      }
    }
    return check_overlap();
  }();
  if (!checked.ok()) return WithContext(checked, "; nothing was imported");

  // Pass 2: append the spooled events, into a checkpoint that then takes the
  // store's place (AppendIntoCheckpointAndExchange).
  if (spool != nullptr) {
    if (std::fflush(spool) != 0 || std::fseek(spool, 0, SEEK_SET) != 0) {
      return absl::InternalError(StrCat("cannot write the spool file next to '", target.string(),
                                        "' (disk full?): ", ErrnoText(errno)));
    }
    const fs::path parent = target.parent_path();
    const std::string name = target.filename().string();
    ScratchDir::RemoveStale(parent, name);
    ScratchDir scratch;
    RETURN_IF_ERROR(scratch.Create(parent, name));
    absl::StatusOr<bool> can_exchange = CanExchangeIn(scratch.path());
    if (!can_exchange.ok()) return can_exchange.status();
    if (const char* hook = std::getenv(kNoExchangeHookEnv); hook != nullptr && *hook != '\0') {
      *can_exchange = false;
    }
    if (*can_exchange) {
      bool exchanged = false;
      absl::Status s =
          AppendIntoCheckpointAndExchange(owner, spool, target, scratch, a, result, exchanged);
      if (!s.ok() && exchanged) return s;
      if (!s.ok()) return WithContext(s, "; nothing was imported (the store is unchanged)");
      return result;
    }
    // No RENAME_EXCHANGE on this file system (e.g. NFS): the earlier way,
    // batches appended to the store itself. Still checked in full by pass 1,
    // but an I/O error or a crash now leaves a prefix, which re-running
    // import completes.
    scratch.Remove();
    ctx.err << "annals import: the file system of '" << parent.string()
            << "' cannot exchange directories atomically (renameat2 RENAME_EXCHANGE); "
               "appending to the store in place: a failure leaves a prefix of the export, "
               "re-run import to complete it\n";
    FileLines spooled(spool);
    ExportReader again(spooled);
    absl::Status s = AppendAll(store, again, result.imported, FailAfterBatchesHook());
    if (!s.ok()) {
      return WithContext(
          s, StrCat("; the store now holds the export up to position ", store.last_position(),
                    ": fix the cause and re-run import to continue"));
    }
  }
  if (!a.buffered) {
    if (absl::Status s = store.Sync(); !s.ok()) return s;
  }
  result.last_position = store.last_position();
  return result;
}

int RunImport(CliContext& ctx, const ImportArgs& a) {
  const fs::path target = TargetPath(a.store);
  std::error_code ec;
  const bool is_new =
      !fs::exists(target, ec) || (fs::is_directory(target, ec) && fs::is_empty(target, ec));
  absl::StatusOr<Imported> result =
      is_new ? ImportIntoNewStore(ctx, a, target) : ImportIntoExistingStore(ctx, a, target);
  if (!result.ok()) {
    absl::Status s = result.status();
    if (is_new && (!fs::exists(target, ec) || fs::is_empty(target, ec))) {
      s = WithContext(s,
                      StrCat("; nothing was imported (no store was created at '", a.store, "')"));
    }
    // An altered export is not a damaged store: no advice to verify it.
    if (s.GetPayload(Sv(kTamperedPayload)).has_value()) {
      return ReportError(ctx, kExitCorruption, StdSv(s.message()));
    }
    return ReportError(ctx, s);
  }
  Json j;
  j["imported"] = result->imported;
  j["skipped"] = result->skipped;
  j["last_position"] = result->last_position;
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineImportCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* app = root.add_subcommand(
      "import",
      "Replay an export (JSON Lines on stdin) into a store, keeping ids, versions, positions "
      "and timestamps; all or nothing; re-running it adds nothing");
  AddStoreArg(*app, args->store);
  app->add_flag("--buffered", args->buffered,
                "Skip the final fsync: the import survives a process crash, not a power loss "
                "(re-run import to finish). By default batches are written buffered and synced "
                "once at the end, before import reports success");
  commands.Add(app, [args](CliContext& ctx) { return RunImport(ctx, *args); });
}

}  // namespace annals::cli
