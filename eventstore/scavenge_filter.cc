// The compaction filters of scavenging (eventstore/internal/scavenge_filter.h).

#include "eventstore/internal/scavenge_filter.h"

#include <string_view>

#include "codec/internal/canonical.h"
#include "codec/internal/record_codec.h"
#include "codec/internal/stub_codec.h"
#include "common/coding.h"

namespace annals::internal {

void ScavengeState::SetPolicy(std::shared_ptr<const ScavengePolicy> policy) {
  MutexLock lock(&mu_);
  policy_ = std::move(policy);
}

std::shared_ptr<const ScavengePolicy> ScavengeState::policy() const {
  MutexLock lock(&mu_);
  return policy_;
}

void ScavengeState::SetCompacted(std::shared_ptr<const CompactedPositions> positions) {
  MutexLock lock(&mu_);
  compacted_ = std::move(positions);
}

std::shared_ptr<const CompactedPositions> ScavengeState::compacted() const {
  MutexLock lock(&mu_);
  return compacted_;
}

void ScavengeState::AddStubbed(const std::vector<uint64_t>& positions) {
  MutexLock lock(&mu_);
  stubbed_.insert(positions.begin(), positions.end());
}

bool ScavengeState::Stubbed(uint64_t position) const {
  MutexLock lock(&mu_);
  return stubbed_.contains(position);
}

bool ScavengeState::AnyStubbed() const {
  MutexLock lock(&mu_);
  return !stubbed_.empty();
}

void ScavengeState::ClearStubbed() {
  MutexLock lock(&mu_);
  stubbed_.clear();
}

void ScavengeState::Attach(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) {
  WriterLock lock(&db_mu_);
  db_ = db;
  log_ = log;
}

void ScavengeState::Detach() {
  WriterLock lock(&db_mu_);
  db_ = nullptr;
  log_ = nullptr;
}

bool ScavengeState::ReadLog(uint64_t position, std::string* value) const {
  ReaderLock lock(&db_mu_);
  if (db_ == nullptr) return false;
  return db_->Get(rocksdb::ReadOptions(), log_, coding::BigEndian64(position), value).ok();
}

namespace {

using Decision = rocksdb::CompactionFilter::Decision;

// One per (sub)compaction: RocksDB calls it from one thread, in key order,
// so it remembers the last hash it saw and reads the log only for the first
// scavenged position of a run whose predecessor lies outside its input.
class LogScavengeFilter : public rocksdb::CompactionFilter {
 public:
  LogScavengeFilter(std::shared_ptr<ScavengeState> state,
                    std::shared_ptr<const ScavengePolicy> policy,
                    std::shared_ptr<const CompactedPositions> compacted)
      : state_(std::move(state)), policy_(std::move(policy)), compacted_(std::move(compacted)) {}

  const char* Name() const override { return "annals.LogScavengeFilter"; }

  Decision FilterV2(int /*level*/, const rocksdb::Slice& key, ValueType value_type,
                    const rocksdb::Slice& existing_value, std::string* new_value,
                    std::string* /*skip_until*/) const override {
    if (value_type != kValue || key.size() != 8) return Decision::kKeep;
    const uint64_t position = coding::DecodeBigEndian64(std::string_view(key.data(), 8));
    const std::string_view bytes(existing_value.data(), existing_value.size());
    // The hash before this position, if this filter saw it.
    const bool have_previous = seen_position_ != 0 && seen_position_ + 1 == position;
    std::string previous_hash = have_previous ? seen_hash_ : std::string();
    seen_position_ = 0;
    if (codec_internal::IsStub(bytes)) {
      codec_internal::StubView stub;
      if (codec_internal::DecodeStub(bytes, &scratch_, &stub).ok()) Remember(position, stub.hash);
      return Decision::kKeep;
    }
    EventView view;
    codec_internal::PayloadEncoding encoding;
    uint32_t checksum = 0;
    if (!decoder_.DecodeStored(bytes, &view, &encoding, &checksum).ok()) return Decision::kKeep;
    Remember(position, view.hash);
    if (view.position != position) return Decision::kKeep;
    codec_internal::ScavengeReason reason;
    const ScavengeCandidate candidate{.stream = view.stream,
                                      .version = view.version,
                                      .position = position,
                                      .recorded_at_us = view.recorded_at_us};
    if (compacted_ != nullptr && compacted_->contains(position)) {
      reason = codec_internal::ScavengeReason::kCompacted;
    } else if (policy_ != nullptr && policy_->Unreachable(candidate)) {
      reason = policy_->HardDeleted(candidate) ? codec_internal::ScavengeReason::kDeleted
                                               : codec_internal::ScavengeReason::kRetention;
    } else {
      return Decision::kKeep;
    }
    const std::string stream(view.stream);
    const std::string hash(view.hash);
    // A damaged record stays as it is, for verify to name: a stub must never
    // launder damage into a checksum that matches.
    if (!decoder_.DecodeCanonical(bytes, /*verify_checksum=*/true, &view, &encoding).ok()) {
      return Decision::kKeep;
    }
    if (!have_previous && !PreviousHash(position, &previous_hash)) return Decision::kKeep;
    *new_value = codec_internal::EncodeStub({.position = position,
                                             .stream = stream,
                                             .version = candidate.version,
                                             .recorded_at_us = candidate.recorded_at_us,
                                             .hash = hash,
                                             .previous_hash = previous_hash,
                                             .reason = reason});
    state_->stubs_written.fetch_add(1, std::memory_order_relaxed);
    return Decision::kChangeValue;
  }

 private:
  void Remember(uint64_t position, std::string_view hash) const {
    seen_position_ = position;
    seen_hash_.assign(hash);
  }

  // The hash of the record or stub at position - 1, read from the log.
  bool PreviousHash(uint64_t position, std::string* out) const {
    if (position == 1) {
      out->assign(codec_internal::kGenesisHash);
      return true;
    }
    std::string value;
    if (!state_->ReadLog(position - 1, &value)) return false;
    if (codec_internal::IsStub(value)) {
      codec_internal::StubView stub;
      if (!codec_internal::DecodeStub(value, &scratch_, &stub).ok()) return false;
      out->assign(stub.hash);
      return true;
    }
    EventView view;
    codec_internal::PayloadEncoding encoding;
    uint32_t checksum = 0;
    if (!decoder_.DecodeStored(value, &view, &encoding, &checksum).ok()) return false;
    out->assign(view.hash);
    return true;
  }

  const std::shared_ptr<ScavengeState> state_;
  const std::shared_ptr<const ScavengePolicy> policy_;
  const std::shared_ptr<const CompactedPositions> compacted_;
  // FilterV2 is const; RocksDB calls one filter from one thread.
  mutable codec_internal::RecordDecoder decoder_;
  mutable std::string scratch_;
  mutable uint64_t seen_position_ = 0;
  mutable std::string seen_hash_;
};

class LogScavengeFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  explicit LogScavengeFilterFactory(std::shared_ptr<ScavengeState> state)
      : state_(std::move(state)) {}
  const char* Name() const override { return "annals.LogScavengeFilterFactory"; }
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    // The policy and the compacted positions as of this compaction's start.
    std::shared_ptr<const ScavengePolicy> policy = state_->policy();
    std::shared_ptr<const CompactedPositions> compacted = state_->compacted();
    if (policy == nullptr && compacted == nullptr) return nullptr;
    return std::make_unique<LogScavengeFilter>(state_, std::move(policy), std::move(compacted));
  }

 private:
  const std::shared_ptr<ScavengeState> state_;
};

class IndexScavengeFilter : public rocksdb::CompactionFilter {
 public:
  IndexScavengeFilter(std::shared_ptr<ScavengeState> state, IndexKind kind)
      : state_(std::move(state)), kind_(kind) {}
  const char* Name() const override { return "annals.IndexScavengeFilter"; }

  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType value_type,
                    const rocksdb::Slice& existing_value, std::string* /*new_value*/,
                    std::string* /*skip_until*/) const override {
    if (value_type != kValue) return Decision::kKeep;
    // stream_index: position:be64; event_ids: position:be64 stream_id version.
    const size_t expected_size = kind_ == IndexKind::kStreamIndex ? 8 : 24;
    if (existing_value.size() != expected_size) return Decision::kKeep;
    const uint64_t position = coding::DecodeBigEndian64(std::string_view(existing_value.data(), 8));
    if (!state_->Stubbed(position)) return Decision::kKeep;
    state_->index_entries_dropped.fetch_add(1, std::memory_order_relaxed);
    return Decision::kRemove;
  }

 private:
  const std::shared_ptr<ScavengeState> state_;
  const IndexKind kind_;
};

class IndexScavengeFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  IndexScavengeFilterFactory(std::shared_ptr<ScavengeState> state, IndexKind kind)
      : state_(std::move(state)), kind_(kind) {}
  const char* Name() const override { return "annals.IndexScavengeFilterFactory"; }
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    if (!state_->AnyStubbed()) return nullptr;
    return std::make_unique<IndexScavengeFilter>(state_, kind_);
  }

 private:
  const std::shared_ptr<ScavengeState> state_;
  const IndexKind kind_;
};

}  // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory> NewLogScavengeFilterFactory(
    std::shared_ptr<ScavengeState> state) {
  return std::make_shared<LogScavengeFilterFactory>(std::move(state));
}

std::shared_ptr<rocksdb::CompactionFilterFactory> NewIndexScavengeFilterFactory(
    std::shared_ptr<ScavengeState> state, IndexKind kind) {
  return std::make_shared<IndexScavengeFilterFactory>(std::move(state), kind);
}

}  // namespace annals::internal
