// The `sqlite` system: the event store people write by hand on SQLite.
//
//   events(global_position INTEGER PRIMARY KEY, stream_id TEXT, version INTEGER,
//          event_id BLOB UNIQUE, type TEXT, recorded_at INTEGER, payload BLOB,
//          UNIQUE(stream_id, version))
//
// WAL journal; synchronous=FULL when durable (fsync at every commit),
// NORMAL when buffered (no fsync at commit, only at checkpoints). An append is
// one IMMEDIATE transaction: read the stream's current version through the
// (stream_id, version) index, compare with the expected one, insert the
// events, commit. The UNIQUE constraint is the safety net against racing
// writers. Written as an expert would in-process: one connection, prepared
// statements reused, and appender threads serialised by a mutex (SQLite has
// one writer at a time anyway; a mutex avoids the busy handler's sleeps).

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/driver/backend.h"

namespace annals::bench {
namespace {

class SqliteBackend : public Backend {
 public:
  ~SqliteBackend() override {
    for (sqlite3_stmt* s : {select_version_, insert_, begin_, commit_, rollback_}) {
      sqlite3_finalize(s);
    }
    if (db_ != nullptr) sqlite3_close(db_);
  }

  absl::Status Open(const BackendOptions& options) {
    const std::string path = options.dir + "/events.db";
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return Error("opening");
    }
    const std::string setup = absl::StrCat(
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=",
        options.durable ? "FULL" : "NORMAL",
        ";"
        "CREATE TABLE IF NOT EXISTS events("
        "  global_position INTEGER PRIMARY KEY,"
        "  stream_id TEXT NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  event_id BLOB NOT NULL UNIQUE,"
        "  type TEXT NOT NULL,"
        "  recorded_at INTEGER NOT NULL,"
        "  payload BLOB NOT NULL,"
        "  UNIQUE(stream_id, version));");
    if (sqlite3_exec(db_, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error("creating the schema");
    }
    if (!Prepare("SELECT max(version) FROM events WHERE stream_id = ?", &select_version_) ||
        !Prepare("INSERT INTO events(stream_id, version, event_id, type, recorded_at, payload) "
                 "VALUES(?, ?, ?, ?, ?, ?)",
                 &insert_) ||
        !Prepare("BEGIN IMMEDIATE", &begin_) || !Prepare("COMMIT", &commit_) ||
        !Prepare("ROLLBACK", &rollback_)) {
      return Error("preparing statements");
    }
    return absl::OkStatus();
  }

  absl::Status Append(int /*thread*/, const std::string& stream, uint64_t expected_version,
                      absl::Span<const BenchEvent> events) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Step(begin_)) return Error("BEGIN");
    sqlite3_bind_text(select_version_, 1, stream.data(), static_cast<int>(stream.size()),
                      SQLITE_STATIC);
    uint64_t current = 0;
    if (sqlite3_step(select_version_) == SQLITE_ROW) {
      current = static_cast<uint64_t>(sqlite3_column_int64(select_version_, 0));
    }
    sqlite3_reset(select_version_);
    if (current != expected_version) {
      Step(rollback_);
      return absl::AbortedError(absl::StrCat("stream ", stream, " is at ", current));
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    uint64_t version = current;
    for (const BenchEvent& e : events) {
      sqlite3_bind_text(insert_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 2, static_cast<int64_t>(++version));
      sqlite3_bind_blob(insert_, 3, e.id.data(), static_cast<int>(e.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 4, e.type.data(), static_cast<int>(e.type.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 5, now);
      sqlite3_bind_blob(insert_, 6, e.payload.data(), static_cast<int>(e.payload.size()),
                        SQLITE_STATIC);
      if (!Step(insert_)) {
        absl::Status s = Error("INSERT");
        Step(rollback_);
        return s;
      }
    }
    if (!Step(commit_)) return Error("COMMIT");
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> ReadStream(const std::string& stream) override {
    sqlite3_stmt* st = nullptr;
    if (!Prepare("SELECT global_position, version, event_id, type, recorded_at, payload "
                 "FROM events WHERE stream_id = ? ORDER BY version",
                 &st)) {
      return Error("preparing the stream read");
    }
    sqlite3_bind_text(st, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    return Drain(st);
  }

  absl::StatusOr<uint64_t> ScanAll() override {
    sqlite3_stmt* st = nullptr;
    if (!Prepare("SELECT global_position, stream_id, version, event_id, type, recorded_at, "
                 "payload FROM events ORDER BY global_position",
                 &st)) {
      return Error("preparing the scan");
    }
    return Drain(st);
  }

 private:
  absl::StatusOr<uint64_t> Drain(sqlite3_stmt* st) {
    uint64_t n = 0, bytes = 0;
    const int payload_col = sqlite3_column_count(st) - 1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, payload_col));
      bytes += static_cast<uint64_t>(sqlite3_column_bytes(st, payload_col)) + p[0] +
               static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      ++n;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error("reading");
    g_sink = g_sink + bytes;
    return n;
  }

  bool Prepare(const char* sql, sqlite3_stmt** st) {
    return sqlite3_prepare_v2(db_, sql, -1, st, nullptr) == SQLITE_OK;
  }

  bool Step(sqlite3_stmt* st) {
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  }

  absl::Status Error(const char* what) {
    return absl::InternalError(
        absl::StrCat("sqlite ", what, ": ", db_ ? sqlite3_errmsg(db_) : "no connection"));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* select_version_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  std::mutex mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenSqlite(const BackendOptions& options) {
  auto backend = std::make_unique<SqliteBackend>();
  absl::Status s = backend->Open(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace annals::bench
