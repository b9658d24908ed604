// scavenge_space: how much disk scavenging gives back (issue 13).
//
// Builds a store of N events (default 1,000,000) in streams of 10 events,
// compacts it, then makes 90% of the streams unreachable (a test scavenge
// policy standing in for deletes: every stream whose number is not a
// multiple of 10), runs EventStore::Scavenge() and compacts again. Prints the
// store's disk use (every file of its directory) and live table bytes
// before and after, as one JSON object.
//
//   build/bench/scavenge/scavenge_space --events 1000000 --payload-bytes 1024
//
// Payloads are JSON objects of about --payload-bytes bytes: a few short
// fields and a text field of random letters and digits, which compresses
// like real text does (about 3/4 under LZ4/ZSTD), not to nothing.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "common/strings.h"
#include "eventstore/internal/scavenge_policy.h"
#include "eventstore/internal/store_access.h"

namespace annals {
namespace {

// Streams "acct-<n>" with n % 10 != 0 are unreachable.
class NinetyPercentDeleted : public internal::ScavengePolicy {
 public:
  bool Unreachable(const internal::ScavengeCandidate& c) const override {
    const std::string_view s = c.stream;
    const size_t dash = s.rfind('-');
    if (dash == std::string_view::npos || dash + 1 >= s.size()) return false;
    return s.back() != '0';
  }
  bool HardDeleted(const internal::ScavengeCandidate&) const override { return true; }
};

uint64_t DirBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    std::error_code size_ec;
    if (e.is_regular_file(size_ec)) total += e.file_size(size_ec);
  }
  return total;
}

std::string Payload(std::mt19937_64& rng, size_t bytes, uint64_t n) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     ";
  std::string text;
  const std::string head =
      StrCat("{\"n\":", n, ",\"amount\":", rng() % 100000, ",\"currency\":\"EUR\",\"note\":\"");
  const size_t fill = bytes > head.size() + 2 ? bytes - head.size() - 2 : 1;
  text.reserve(fill);
  for (size_t i = 0; i < fill; ++i) text.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return head + text + "\"}";
}

int Run(int argc, char** argv) {
  uint64_t events = 1000000;
  size_t payload_bytes = 1024;
  std::string dir = "/tmp/annals-scavenge-space";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events") {
      events = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--payload-bytes") {
      payload_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  Options options;
  options.durability = Durability::kBuffered;
  absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(dir, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  EventStore& store = **opened;
  const auto t0 = std::chrono::steady_clock::now();
  std::mt19937_64 rng(42);
  std::vector<std::string> payloads(10);
  std::vector<NewEvent> batch(10);
  for (uint64_t stream = 0; stream * 10 < events; ++stream) {
    for (size_t i = 0; i < 10; ++i) {
      payloads[i] = Payload(rng, payload_bytes, stream * 10 + i);
      batch[i] = NewEvent{.type = "Posted", .payload = payloads[i]};
    }
    absl::StatusOr<AppendResult> r =
        store.Append(StrCat("acct-", stream), ExpectedVersion::NoStream(), batch);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  // The "before" figure: the same store compacted without a policy (no
  // memtable, every family at its steady state), so that the comparison
  // measures scavenging and not compaction.
  absl::StatusOr<ScavengeReport> baseline = store.Scavenge();
  if (!baseline.ok()) {
    std::fprintf(stderr, "%s\n", baseline.status().ToString().c_str());
    return 1;
  }
  const uint64_t disk_before = DirBytes(dir);
  internal::StoreAccess::SetScavengePolicy(store, std::make_shared<NinetyPercentDeleted>());
  const auto t2 = std::chrono::steady_clock::now();
  absl::StatusOr<ScavengeReport> report = store.Scavenge();
  const auto t3 = std::chrono::steady_clock::now();
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
    return 1;
  }
  const uint64_t disk_after = DirBytes(dir);
  absl::StatusOr<VerifyReport> verify = store.Verify();
  const bool verified = verify.ok() && verify->ok;
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf(
      "{\"events\":%llu,\"payload_bytes\":%zu,\"scavenged\":%llu,"
      "\"disk_bytes_before\":%llu,\"disk_bytes_after\":%llu,\"disk_reduction\":%.4f,"
      "\"table_bytes_before\":%llu,\"table_bytes_after\":%llu,"
      "\"load_s\":%.1f,\"scavenge_s\":%.1f,\"verify_ok\":%s,\"verify_scavenged\":%llu}\n",
      static_cast<unsigned long long>(events), payload_bytes,
      static_cast<unsigned long long>(report->scavenged),
      static_cast<unsigned long long>(disk_before), static_cast<unsigned long long>(disk_after),
      1.0 - static_cast<double>(disk_after) / static_cast<double>(disk_before),
      static_cast<unsigned long long>(report->bytes_before),
      static_cast<unsigned long long>(report->bytes_after), secs(t0, t1), secs(t2, t3),
      verified ? "true" : "false",
      static_cast<unsigned long long>(verify.ok() ? verify->scavenged : 0));
  (void)baseline;
  opened->reset();
  std::filesystem::remove_all(dir);
  return verified ? 0 : 1;
}

}  // namespace
}  // namespace annals

int main(int argc, char** argv) { return annals::Run(argc, argv); }
