// EventStore, the public face: every method forwards to EventStore::Impl
// (eventstore/internal/event_store_impl.h), which is split by concern into
// event_store_open.cc, event_store_append.cc, event_store_stage.cc,
// event_store_read.cc, event_store_verify.cc and event_store_integrity.cc.

#include "annals/event_store.h"

#include <memory>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "eventstore/internal/event_store_impl.h"

namespace annals {
namespace {

// NewEvent views of owned events (EventData), for the length of one append:
// the owning overloads build these and take the borrowing path, so both
// behave identically. Sized up front, so no reallocation moves a span
// already handed out.
class BorrowedEvents {
 public:
  BorrowedEvents(size_t events, size_t metadata_entries) {
    events_.reserve(events);
    metadata_.reserve(metadata_entries);
  }

  // Views of `owned`, valid while `owned` and this object live.
  absl::Span<const NewEvent> Add(absl::Span<const EventData> owned) {
    const size_t first = events_.size();
    for (const EventData& e : owned) {
      const size_t first_entry = metadata_.size();
      for (const auto& [key, value] : e.metadata) metadata_.emplace_back(key, value);
      events_.push_back(NewEvent{
          .id = e.id,
          .type = e.type,
          .schema_version = e.schema_version,
          .content_type = e.content_type,
          .payload = e.payload,
          .correlation_id = e.correlation_id,
          .causation_id = e.causation_id,
          .metadata = absl::MakeConstSpan(metadata_.data() + first_entry, e.metadata.size()),
          .recorded_at_us = e.recorded_at_us,
          .subject = e.subject,
      });
    }
    return absl::MakeConstSpan(events_.data() + first, owned.size());
  }

 private:
  std::vector<NewEvent> events_;
  std::vector<MetadataEntry> metadata_;
};

size_t MetadataEntries(absl::Span<const EventData> events) {
  size_t n = 0;
  for (const EventData& e : events) n += e.metadata.size();
  return n;
}

}  // namespace

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(std::string_view path,
                                                             const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::Open(path, options));
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

absl::StatusOr<AppendResult> EventStore::Append(std::string_view stream, ExpectedVersion expected,
                                                absl::Span<const NewEvent> events) {
  StreamAppend part{stream, expected, events};
  ASSIGN_OR_RETURN(std::vector<AppendResult> results, impl_->AppendMulti({&part, 1}));
  return results.front();
}

absl::StatusOr<std::vector<AppendResult>> EventStore::AppendMulti(
    absl::Span<const StreamAppend> parts) {
  return impl_->AppendMulti(parts);
}

absl::StatusOr<AppendResult> EventStore::AppendOwned(std::string_view stream,
                                                     ExpectedVersion expected,
                                                     absl::Span<const EventData> events) {
  BorrowedEvents borrowed(events.size(), MetadataEntries(events));
  return Append(stream, expected, borrowed.Add(events));
}

absl::StatusOr<std::vector<AppendResult>> EventStore::AppendMultiOwned(
    absl::Span<const StreamAppendData> parts) {
  size_t events = 0;
  size_t entries = 0;
  for (const StreamAppendData& part : parts) {
    events += part.events.size();
    entries += MetadataEntries(part.events);
  }
  BorrowedEvents borrowed(events, entries);
  std::vector<StreamAppend> views;
  views.reserve(parts.size());
  for (const StreamAppendData& part : parts) {
    views.push_back(StreamAppend{
        .stream = part.stream, .expected = part.expected, .events = borrowed.Add(part.events)});
  }
  return impl_->AppendMulti(views);
}

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadStream(
    std::string_view stream, const ReadStreamOptions& options) const {
  std::vector<RecordedEvent> out;
  RETURN_IF_ERROR(impl_->ScanStream(stream, options, [&](const EventView& e) {
    out.push_back(e.ToOwned());
    return true;
  }));
  return out;
}

absl::Status EventStore::ScanStream(std::string_view stream, const ReadStreamOptions& options,
                                    absl::FunctionRef<bool(const EventView&)> visit) const {
  return impl_->ScanStream(stream, options, visit);
}

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadAll(
    const ReadAllOptions& options) const {
  std::vector<RecordedEvent> out;
  RETURN_IF_ERROR(impl_->ScanAll(options, [&](const EventView& e) {
    out.push_back(e.ToOwned());
    return true;
  }));
  return out;
}

absl::Status EventStore::ScanAll(const ReadAllOptions& options,
                                 absl::FunctionRef<bool(const EventView&)> visit) const {
  return impl_->ScanAll(options, visit);
}

absl::StatusOr<RecordedEvent> EventStore::ReadEvent(const Uuid& id) const {
  return impl_->ReadEvent(id);
}

absl::StatusOr<StreamInfo> EventStore::GetStream(std::string_view stream) const {
  return impl_->GetStream(stream);
}

absl::Status EventStore::ListStreams(std::string_view prefix,
                                     absl::FunctionRef<bool(const StreamInfo&)> visit) const {
  return impl_->ListStreams(prefix, visit);
}

absl::StatusOr<StreamMetadataInfo> EventStore::GetStreamMetadata(std::string_view stream) const {
  return impl_->GetStreamMetadata(stream);
}
absl::StatusOr<StreamMetadataInfo> EventStore::SetStreamMetadata(std::string_view stream,
                                                                 ExpectedVersion expected,
                                                                 const StreamMetadata& metadata) {
  return impl_->SetStreamMetadata(stream, expected, metadata);
}
absl::StatusOr<StreamMetadataInfo> EventStore::DeleteStream(std::string_view stream,
                                                            ExpectedVersion expected,
                                                            DeleteMode mode) {
  return impl_->DeleteStream(stream, expected, mode);
}
absl::Status EventStore::SetConsumerPosition(std::string_view name, uint64_t position) {
  return impl_->SetConsumerPosition(name, position);
}
absl::Status EventStore::RemoveConsumer(std::string_view name) {
  return impl_->RemoveConsumer(name);
}
std::vector<ConsumerInfo> EventStore::ListConsumers() const { return impl_->ListConsumers(); }

uint64_t EventStore::last_position() const { return impl_->last_position(); }
bool EventStore::WaitForPosition(uint64_t position, absl::Duration timeout) {
  return impl_->WaitForPosition(position, timeout);
}
absl::Status EventStore::CatchUp() { return impl_->CatchUp(); }
absl::Status EventStore::Sync() { return impl_->Sync(); }
absl::StatusOr<VerifyReport> EventStore::Verify() { return impl_->Verify(); }
absl::StatusOr<ScavengeReport> EventStore::Scavenge() { return impl_->Scavenge(); }
absl::Status EventStore::SetCategoryCompaction(std::string_view category,
                                               const CompactionKey& key) {
  return impl_->SetCategoryCompaction(category, key);
}

absl::Status EventStore::ForgetSubject(std::string_view subject) {
  return impl_->ForgetSubject(subject);
}
absl::StatusOr<StoreStats> EventStore::Stats() const { return impl_->Stats(); }
bool EventStore::read_only() const { return impl_->read_only(); }
const std::string& EventStore::path() const { return impl_->path(); }
const Options& EventStore::options() const { return impl_->options(); }

}  // namespace annals
