// The `annals` system: the public EventStore API, nothing else.

#include <atomic>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "annals/statistics.h"
#include "bench/driver/backend.h"

namespace annals::bench {
namespace {

class AnnalsBackend : public Backend {
 public:
  AnnalsBackend(std::unique_ptr<EventStore> store, int subjects) : store_(std::move(store)) {
    for (int i = 0; i < subjects; ++i) subjects_.push_back("subject-" + std::to_string(i));
  }

  absl::Status Append(int /*thread*/, const std::string& stream, uint64_t expected_version,
                      absl::Span<const BenchEvent> events) override {
    // Converting to NewEvent is part of what a caller of the API pays.
    std::vector<NewEvent> batch(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      batch[i].id = *Uuid::FromBytes(events[i].id);  // 16 bytes by construction.
      batch[i].type = events[i].type;
      batch[i].content_type = ContentType::kBytes;
      batch[i].payload = events[i].payload;
      if (!subjects_.empty()) {
        batch[i].subject = subjects_[next_subject_.fetch_add(1) % subjects_.size()];
      }
    }
    absl::StatusOr<AppendResult> r =
        store_->Append(stream, ExpectedVersion::Exact(expected_version), batch);
    return r.status();
  }

  absl::StatusOr<uint64_t> ReadStream(const std::string& stream) override {
    return CountEvents([&](auto visit) { return store_->ScanStream(stream, {}, visit); });
  }

  absl::StatusOr<uint64_t> ScanAll() override {
    return CountEvents([&](auto visit) { return store_->ScanAll({}, visit); });
  }

 private:
  // Runs `scan` (given the visitor) and returns the number of events it
  // visited; touches every payload into g_sink, so the reads are not
  // optimized away.
  template <typename Scan>
  static absl::StatusOr<uint64_t> CountEvents(Scan scan) {
    uint64_t n = 0, bytes = 0;
    absl::Status s = scan([&](const EventView& e) {
      ++n;
      bytes += e.payload.size() + static_cast<unsigned char>(e.payload[0]);
      return true;
    });
    if (!s.ok()) return s;
    g_sink = g_sink + bytes;
    return n;
  }

  std::unique_ptr<EventStore> store_;
  std::vector<std::string> subjects_;
  std::atomic<uint64_t> next_subject_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenAnnals(const BackendOptions& options) {
  Options o;  // Documented defaults; only durability (and the flags) vary.
  o.durability = options.durable ? Durability::kSync : Durability::kBuffered;
  if (options.block_cache_bytes > 0) o.block_cache_bytes = options.block_cache_bytes;
  if (options.statistics) o.statistics = CreateStatistics();
  // A fixed key: the bench measures the cipher's cost, not key management.
  if (options.encrypt) o.encryption = EncryptionOptions{.master_key = std::string(32, '\x5a')};
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(options.dir, o);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Backend>(new AnnalsBackend(std::move(*store), options.subjects));
}

}  // namespace annals::bench
