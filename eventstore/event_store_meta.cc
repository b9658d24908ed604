// Stream metadata, deletes and durable consumers (annals/stream_metadata.h,
// docs/lifecycle.md). Each change is a request of the committer, so it is
// ordered with appends: an append staged after a hard delete in the same
// group, or in any later group, sees the tombstone. Each is written in the
// group's WriteBatch and synced whatever Options::durability says, so that
// a scavenge never acts on a change that a power loss could take back.
// Readers apply the published RetentionView (eventstore/internal/retention.h).

#include <algorithm>
#include <optional>
#include <vector>

#include "annals/errors.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/append_validation.h"
#include "eventstore/internal/commit_group.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals {
namespace {

absl::Status ValidateConsumerName(std::string_view name) {
  if (name.empty() || name.size() > 256) {
    return absl::InvalidArgumentError("a consumer name has 1 to 256 bytes");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("a consumer name has no control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EventStore::Impl::DeletedStreamError(std::string_view stream, StreamDeletion deleted) {
  if (deleted == StreamDeletion::kHard) {
    return absl::NotFoundError(StrCat("stream '", stream,
                                      "' was deleted (hard delete): its events are gone for every "
                                      "reader and its name cannot be reused"));
  }
  return absl::NotFoundError(StrCat("stream '", stream,
                                    "' was deleted (soft delete): no event of it is visible; "
                                    "appending to it recreates it, continuing its versions"));
}

std::shared_ptr<const internal::ScavengePolicy> EventStore::Impl::RetentionPolicy() const {
  return std::make_shared<internal::RetentionScavengePolicy>(
      this, [](const void* store) { return static_cast<const Impl*>(store)->retention(); });
}

std::optional<internal::StreamMetaRecord> EventStore::Impl::LookupMeta(
    std::string_view stream, const GroupState& group) const {
  if (auto it = group.meta.find(Sv(stream)); it != group.meta.end()) return it->second;
  if (const internal::RetentionView::Entry* e = group.view->Find(stream)) return e->record;
  return std::nullopt;
}

absl::StatusOr<StreamMetadataInfo> EventStore::Impl::GetStreamMetadata(
    std::string_view stream) const {
  RETURN_IF_ERROR(internal::ValidateStreamName(stream));
  const std::shared_ptr<const internal::RetentionView> view = retention();
  if (const internal::RetentionView::Entry* e = view->Find(stream)) return e->record.info;
  return StreamMetadataInfo{};
}

std::vector<ConsumerInfo> EventStore::Impl::ListConsumers() const {
  const std::shared_ptr<const internal::RetentionView> view = retention();
  std::vector<ConsumerInfo> out;
  out.reserve(view->consumers.size());
  for (const auto& [name, position] : view->consumers) out.push_back({name, position});
  std::sort(out.begin(), out.end(),
            [](const ConsumerInfo& a, const ConsumerInfo& b) { return a.name < b.name; });
  return out;
}

namespace {

absl::Status WritableForMeta(const Options& options) {
  if (options.read_only) {
    return absl::FailedPreconditionError(
        "store is open read-only; open it without Options::read_only to change metadata, delete "
        "streams or move consumers");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StreamMetadataInfo> EventStore::Impl::SetStreamMetadata(
    std::string_view stream, ExpectedVersion expected, const StreamMetadata& metadata) {
  RETURN_IF_ERROR(WritableForMeta(options_));
  RETURN_IF_ERROR(internal::ValidateStreamName(stream));
  if (metadata.max_age_us < 0) {
    return absl::InvalidArgumentError("max_age_us is negative; give 0 for no age limit");
  }
  MetaOp op;
  op.kind = MetaOp::Kind::kSetMetadata;
  op.name = stream;
  op.expected = expected;
  op.metadata = metadata;
  Request request;
  request.meta = &op;
  RETURN_IF_ERROR(EnqueueAndWait(request, nullptr));
  return op.result;
}

absl::StatusOr<StreamMetadataInfo> EventStore::Impl::DeleteStream(std::string_view stream,
                                                                  ExpectedVersion expected,
                                                                  DeleteMode mode) {
  RETURN_IF_ERROR(WritableForMeta(options_));
  RETURN_IF_ERROR(internal::ValidateStreamName(stream));
  MetaOp op;
  op.kind = MetaOp::Kind::kDelete;
  op.name = stream;
  op.expected = expected;
  op.mode = mode;
  Request request;
  request.meta = &op;
  RETURN_IF_ERROR(EnqueueAndWait(request, nullptr));
  return op.result;
}

absl::Status EventStore::Impl::SetConsumerPosition(std::string_view name, uint64_t position) {
  RETURN_IF_ERROR(WritableForMeta(options_));
  RETURN_IF_ERROR(ValidateConsumerName(name));
  MetaOp op;
  op.kind = MetaOp::Kind::kSetConsumer;
  op.name = name;
  op.position = position;
  Request request;
  request.meta = &op;
  return EnqueueAndWait(request, nullptr);
}

absl::Status EventStore::Impl::RemoveConsumer(std::string_view name) {
  RETURN_IF_ERROR(WritableForMeta(options_));
  RETURN_IF_ERROR(ValidateConsumerName(name));
  MetaOp op;
  op.kind = MetaOp::Kind::kRemoveConsumer;
  op.name = name;
  Request request;
  request.meta = &op;
  return EnqueueAndWait(request, nullptr);
}

absl::Status EventStore::Impl::StageMetaRequest(MetaOp& op, GroupState& group,
                                                rocksdb::WriteBatch& batch) {
  if (stream_meta_cf_ == nullptr || consumers_cf_ == nullptr) {
    return absl::InternalError("the stream_meta and consumers families are not open");
  }
  using Kind = MetaOp::Kind;
  if (op.kind == Kind::kSetMetadata || op.kind == Kind::kDelete) {
    const std::optional<internal::StreamMetaRecord> meta = LookupMeta(op.name, group);
    internal::StreamMetaRecord record = meta.value_or(internal::StreamMetaRecord{});
    if (record.info.deleted == StreamDeletion::kHard) {
      return absl::FailedPreconditionError(
          StrCat("stream '", op.name,
                 "' was deleted (hard delete): its metadata cannot change and it cannot be "
                 "deleted again"));
    }
    if (op.kind == Kind::kSetMetadata) {
      if (!op.expected.Matches(record.info.metadata_version)) {
        return absl::AbortedError(
            StrCat("the metadata of stream '", op.name, "' is at version ",
                   record.info.metadata_version, ", not the expected ",
                   op.expected.kind() == ExpectedVersion::Kind::kExact
                       ? StrCat(op.expected.version())
                       : std::string("(no metadata / exists)"),
                   "; read it again (GetStreamMetadata) and retry with its version"));
      }
      record.info.metadata = op.metadata;
    } else {
      ASSIGN_OR_RETURN(const internal::Head head, LookupHead(op.name, group));
      if (!internal::ExpectedMatches(op.expected, head.version, meta)) {
        return WrongExpectedVersionError({std::string(op.name), op.expected, head.version});
      }
      if (op.mode == DeleteMode::kSoft) {
        if (head.version == 0) {
          return absl::NotFoundError(
              StrCat("stream '", op.name, "' has no events: there is nothing to soft-delete"));
        }
        record.info.deleted = StreamDeletion::kSoft;
        record.info.metadata.truncate_before = head.version + 1;
        record.deleted_before = head.version + 1;
      } else {
        record.info.deleted = StreamDeletion::kHard;
      }
    }
    ++record.info.metadata_version;
    batch.Put(stream_meta_cf_, op.name, internal::EncodeStreamMeta(record));
    group.meta[std::string(op.name)] = record;
    group.sync = true;
    op.result = record.info;
    return absl::OkStatus();
  }

  // Consumers: the set as it will be after the group so far.
  absl::flat_hash_map<std::string, uint64_t> consumers = group.view->consumers;
  for (const auto& [name, position] : group.consumers) {
    if (position) {
      consumers[name] = *position;
    } else {
      consumers.erase(name);
    }
  }
  uint64_t floor = group.consumer_floor.value_or(group.view->consumer_floor);
  const bool was_empty = consumers.empty();
  const auto it = consumers.find(Sv(op.name));
  if (op.kind == Kind::kSetConsumer) {
    const uint64_t end = next_position_ - 1;
    if (op.position > end) {
      return absl::InvalidArgumentError(
          StrCat("consumer position ", op.position, " is past the end of the log (", end, ")"));
    }
    if (it != consumers.end() && op.position < it->second) {
      return absl::FailedPreconditionError(
          StrCat("consumer '", op.name, "' is at position ", it->second,
                 "; a consumer never moves backward: RemoveConsumer() it first to restart it"));
    }
    consumers[std::string(op.name)] = op.position;
    group.consumers[std::string(op.name)] = op.position;
    batch.Put(consumers_cf_, op.name, coding::BigEndian64(op.position));
    // The first consumer of an empty set: everything the limits hid so far
    // stays hidden (the bound never decreases).
    if (was_empty) floor = std::max(floor, end);
  } else {
    if (it == consumers.end()) {
      return absl::NotFoundError(StrCat("no consumer is named '", op.name, "'"));
    }
    consumers.erase(it);
    group.consumers[std::string(op.name)] = std::nullopt;
    batch.Delete(consumers_cf_, op.name);
  }
  if (!consumers.empty()) {
    uint64_t min = UINT64_MAX;
    for (const auto& [name, position] : consumers) min = std::min(min, position);
    floor = std::max(floor, min);
  }
  if (floor != group.consumer_floor.value_or(group.view->consumer_floor)) {
    batch.Put(consumers_cf_, internal::kConsumerFloorKey, coding::BigEndian64(floor));
  }
  group.consumer_floor = floor;
  group.sync = true;
  return absl::OkStatus();
}

void EventStore::Impl::PublishRetention(const GroupState& group) {
  const std::shared_ptr<const internal::RetentionView>& old = group.view;
  auto raise = [](internal::RetentionView::Entry& e, uint64_t version) {
    if (version > e.last_version.load(std::memory_order_relaxed)) {
      e.last_version.store(version, std::memory_order_release);
    }
  };
  if (group.meta.empty() && group.consumers.empty() && !group.consumer_floor) {
    if (!old->has_stream_metadata()) return;
    for (const auto& [stream, head] : group.heads) {
      if (auto it = old->streams.find(stream); it != old->streams.end()) {
        raise(*it->second, head.version);
      }
    }
    return;
  }
  auto next = std::make_shared<internal::RetentionView>();
  next->streams = old->streams;  // Entries are shared: their last_version is the stream's.
  next->consumers = old->consumers;
  next->consumer_floor = group.consumer_floor.value_or(old->consumer_floor);
  next->waits_for_consumers = old->waits_for_consumers;
  for (const auto& [stream, head] : group.heads) {
    if (auto it = next->streams.find(stream); it != next->streams.end()) {
      raise(*it->second, head.version);
    }
  }
  for (const auto& [stream, record] : group.meta) {
    uint64_t last = 0;
    if (auto it = group.heads.find(stream); it != group.heads.end()) {
      last = it->second.version;
    } else if (auto head = LookupHead(stream, group); head.ok()) {
      last = head->version;
    }
    next->streams[stream] = std::make_shared<internal::RetentionView::Entry>(record, last);
  }
  for (const auto& [name, position] : group.consumers) {
    if (position) {
      next->consumers[name] = *position;
    } else {
      next->consumers.erase(name);
    }
  }
  MutexLock lock(&retention_mu_);
  retention_ = std::move(next);
}

absl::Status EventStore::Impl::LoadRetention() {
  if (stream_meta_cf_ == nullptr) {
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> meta = ModuleFamily(internal::kStreamMetaFamily);
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> consumers =
        ModuleFamily(internal::kConsumersFamily);
    if (meta.ok() && consumers.ok()) {
      stream_meta_cf_ = *meta;
      consumers_cf_ = *consumers;
    } else if (!options_.read_only ||
               !absl::IsNotFound(meta.ok() ? consumers.status() : meta.status())) {
      return meta.ok() ? consumers.status() : meta.status();
    }
  }
  auto view = std::make_shared<internal::RetentionView>();
  view->waits_for_consumers = options_.retention_waits_for_consumers;
  if (stream_meta_cf_ != nullptr) {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, stream_meta_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view stream(it->key().data(), it->key().size());
      ASSIGN_OR_RETURN(internal::StreamMetaRecord record,
                       internal::DecodeStreamMeta(
                           stream, std::string_view(it->value().data(), it->value().size())));
      uint64_t last = 0;
      absl::StatusOr<internal::Head> head = ReadHead(ro, stream);
      if (head.ok()) {
        last = head->version;
      } else if (!absl::IsNotFound(head.status())) {
        return head.status();
      }
      view->streams.emplace(stream, std::make_shared<internal::RetentionView::Entry>(record, last));
    }
    RETURN_IF_ERROR(internal::FromRocksDb(it->status(), "reading stream metadata"));
    it.reset(db_->NewIterator(ro, consumers_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view name(it->key().data(), it->key().size());
      if (it->value().size() != 8) {
        return absl::DataLossError(StrCat("the position of consumer '", name, "' is malformed"));
      }
      const uint64_t position = coding::DecodeBigEndian64(std::string_view(it->value().data(), 8));
      if (name == internal::kConsumerFloorKey) {
        view->consumer_floor = position;
      } else {
        view->consumers.emplace(name, position);
      }
    }
    RETURN_IF_ERROR(internal::FromRocksDb(it->status(), "reading consumer positions"));
  }
  MutexLock lock(&retention_mu_);
  retention_ = std::move(view);
  return absl::OkStatus();
}

}  // namespace annals
