// The visibility rule and the records of `stream_meta` (retention.h).

#include "eventstore/internal/retention.h"

#include <algorithm>

#include "common/clock.h"
#include "common/coding.h"
#include "common/strings.h"

namespace annals::internal {
namespace {

constexpr char kStreamMetaFormat = 1;
constexpr size_t kStreamMetaBytes = 42;

}  // namespace

// Declared here, in the event store, which owns both families: every writer
// open creates them, so a follower opened later finds them.
const ColumnFamilyDeclaration kDeclareStreamMeta(kStreamMetaFamily);
const ColumnFamilyDeclaration kDeclareConsumers(kConsumersFamily);

std::string EncodeStreamMeta(const StreamMetaRecord& r) {
  std::string out;
  out.reserve(kStreamMetaBytes);
  out.push_back(kStreamMetaFormat);
  coding::PutBigEndian64(&out, r.info.metadata_version);
  coding::PutBigEndian64(&out, r.info.metadata.max_count);
  coding::PutBigEndian64(&out, static_cast<uint64_t>(r.info.metadata.max_age_us));
  coding::PutBigEndian64(&out, r.info.metadata.truncate_before);
  out.push_back(static_cast<char>(r.info.deleted));
  coding::PutBigEndian64(&out, r.deleted_before);
  return out;
}

absl::StatusOr<StreamMetaRecord> DecodeStreamMeta(std::string_view stream, std::string_view v) {
  auto bad = [&] {
    return absl::DataLossError(
        StrCat("the metadata of stream '", stream, "' is malformed; run annals verify"));
  };
  if (v.size() != kStreamMetaBytes || v[0] != kStreamMetaFormat) return bad();
  StreamMetaRecord r;
  r.info.metadata_version = coding::DecodeBigEndian64(v.substr(1, 8));
  r.info.metadata.max_count = coding::DecodeBigEndian64(v.substr(9, 8));
  r.info.metadata.max_age_us = static_cast<int64_t>(coding::DecodeBigEndian64(v.substr(17, 8)));
  r.info.metadata.truncate_before = coding::DecodeBigEndian64(v.substr(25, 8));
  const auto deleted = static_cast<uint8_t>(v[33]);
  if (deleted > static_cast<uint8_t>(StreamDeletion::kHard) || r.info.metadata.max_age_us < 0) {
    return bad();
  }
  r.info.deleted = static_cast<StreamDeletion>(deleted);
  r.deleted_before = coding::DecodeBigEndian64(v.substr(34, 8));
  return r;
}

bool ExpectedMatches(ExpectedVersion expected, uint64_t version,
                     const std::optional<StreamMetaRecord>& meta) {
  if (meta && meta->info.deleted == StreamDeletion::kSoft) {
    if (expected.kind() == ExpectedVersion::Kind::kNoStream) return true;
    if (expected.kind() == ExpectedVersion::Kind::kStreamExists) return false;
  }
  return expected.Matches(version);
}

StreamRule RuleFor(const StreamMetaRecord& record, uint64_t last_version, int64_t now_us,
                   uint64_t limits_bound) {
  StreamRule rule;
  const StreamMetadata& m = record.info.metadata;
  rule.hard_deleted = record.info.deleted == StreamDeletion::kHard;
  rule.deleted_before = record.deleted_before;
  rule.limit_first_version = m.truncate_before;
  if (m.max_count > 0 && last_version > m.max_count) {
    rule.limit_first_version = std::max(rule.limit_first_version, last_version - m.max_count + 1);
  }
  if (m.max_age_us > 0) {
    rule.min_recorded_at_us = now_us > std::numeric_limits<int64_t>::min() + m.max_age_us
                                  ? now_us - m.max_age_us
                                  : std::numeric_limits<int64_t>::min();
  }
  rule.limits_bound = limits_bound;
  return rule;
}

const RetentionView::Entry* RetentionView::Find(std::string_view stream) const {
  if (streams.empty()) return nullptr;
  auto it = streams.find(Sv(stream));
  return it == streams.end() ? nullptr : it->second.get();
}

uint64_t RetentionView::limits_bound() const {
  if (!waits_for_consumers || consumers.empty()) return std::numeric_limits<uint64_t>::max();
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (const auto& [name, position] : consumers) min = std::min(min, position);
  return std::max(min, consumer_floor);
}

StreamRule RetentionView::Rule(std::string_view stream, uint64_t last_version,
                               int64_t now_us) const {
  const Entry* e = Find(stream);
  if (e == nullptr) return StreamRule{};
  if (last_version == 0) last_version = e->last_version.load(std::memory_order_acquire);
  return RuleFor(e->record, last_version, now_us, limits_bound());
}

bool RetentionScavengePolicy::Unreachable(const ScavengeCandidate& c) const {
  const std::shared_ptr<const RetentionView> view = view_(store_);
  if (view == nullptr) return false;
  const RetentionView::Entry* e = view->Find(c.stream);
  if (e == nullptr) return false;
  const StreamRule rule = RuleFor(e->record, e->last_version.load(std::memory_order_acquire),
                                  NowMicros(), view->limits_bound());
  return !rule.Visible(c.version, c.position, c.recorded_at_us);
}

bool RetentionScavengePolicy::HardDeleted(const ScavengeCandidate& c) const {
  const std::shared_ptr<const RetentionView> view = view_(store_);
  if (view == nullptr) return false;
  const RetentionView::Entry* e = view->Find(c.stream);
  return e != nullptr && e->record.info.deleted == StreamDeletion::kHard;
}

}  // namespace annals::internal
