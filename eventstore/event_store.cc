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

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadStream(
    std::string_view stream, const ReadStreamOptions& options) {
  std::vector<RecordedEvent> out;
  RETURN_IF_ERROR(impl_->ScanStream(stream, options, [&](const EventView& e) {
    out.push_back(e.ToOwned());
    return true;
  }));
  return out;
}

absl::Status EventStore::ScanStream(std::string_view stream, const ReadStreamOptions& options,
                                    absl::FunctionRef<bool(const EventView&)> visit) {
  return impl_->ScanStream(stream, options, visit);
}

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadAll(const ReadAllOptions& options) {
  std::vector<RecordedEvent> out;
  RETURN_IF_ERROR(impl_->ScanAll(options, [&](const EventView& e) {
    out.push_back(e.ToOwned());
    return true;
  }));
  return out;
}

absl::Status EventStore::ScanAll(const ReadAllOptions& options,
                                 absl::FunctionRef<bool(const EventView&)> visit) {
  return impl_->ScanAll(options, visit);
}

absl::StatusOr<StreamInfo> EventStore::GetStream(std::string_view stream) {
  return impl_->GetStream(stream);
}

absl::Status EventStore::ListStreams(std::string_view prefix,
                                     absl::FunctionRef<bool(const StreamInfo&)> visit) {
  return impl_->ListStreams(prefix, visit);
}

uint64_t EventStore::last_position() const { return impl_->last_position(); }
bool EventStore::WaitForPosition(uint64_t position, absl::Duration timeout) {
  return impl_->WaitForPosition(position, timeout);
}
absl::Status EventStore::CatchUp() { return impl_->CatchUp(); }
absl::Status EventStore::Sync() { return impl_->Sync(); }
absl::StatusOr<VerifyReport> EventStore::Verify() { return impl_->Verify(); }
absl::StatusOr<StoreStats> EventStore::Stats() { return impl_->Stats(); }
bool EventStore::read_only() const { return impl_->read_only(); }
const std::string& EventStore::path() const { return impl_->path(); }
const Options& EventStore::options() const { return impl_->options(); }

}  // namespace annals
