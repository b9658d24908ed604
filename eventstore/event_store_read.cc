// The read path. Every read runs on the caller's thread against a RocksDB
// snapshot (explicit, or an iterator's implicit one), so it sees whole groups
// of appends and never blocks the committer. Every loop checks the
// iterator's status afterwards: a corrupt block must surface as kDataLoss,
// never as a silently shorter stream (shared/reliability-notes.md).

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codec/internal/stub_codec.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/statistics_recording.h"

namespace annals {
namespace {

// Releases a RocksDB snapshot when it goes out of scope. A read-only
// follower (RocksDB secondary) has no snapshots: then get() is null and the
// caller holds follower_mu_ instead.
class ScopedSnapshot {
 public:
  ScopedSnapshot(rocksdb::DB* db, bool follower)
      : db_(db), snapshot_(follower ? nullptr : db->GetSnapshot()) {}
  ~ScopedSnapshot() {
    if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
  }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

absl::Status Damaged(uint64_t position, std::string_view what) {
  return absl::DataLossError(
      StrCat("record at position ", position, " is damaged: ", what, "; run annals verify"));
}

}  // namespace

absl::StatusOr<internal::Head> EventStore::Impl::ReadHead(const rocksdb::ReadOptions& ro,
                                                          std::string_view stream) const {
  std::string value;
  rocksdb::Status s = db_->Get(ro, families_[internal::kHeadsFamily], stream, &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(StrCat("stream '", stream, "' has no events"));
  }
  if (!s.ok()) return internal::FromRocksDb(s, StrCat("reading stream '", stream, "'"));
  internal::Head head;
  if (!internal::DecodeHead(value, &head)) {
    return absl::DataLossError(StrCat("head of stream '", stream, "' is malformed"));
  }
  return head;
}

absl::Status EventStore::Impl::CheckVisible(const rocksdb::ReadOptions& ro, std::string_view stream,
                                            const internal::Head& head,
                                            const internal::RetentionView::Entry& meta,
                                            const internal::StreamRule& rule) const {
  if (rule.hard_deleted) return DeletedStreamError(stream, StreamDeletion::kHard);
  int64_t last_recorded_at = std::numeric_limits<int64_t>::max();
  if (rule.min_recorded_at_us != std::numeric_limits<int64_t>::min()) {
    rocksdb::PinnableSlice last;
    rocksdb::Status s = db_->Get(ro, families_[internal::kLogFamily],
                                 coding::BigEndian64(head.last_position), &last);
    if (!s.ok()) {
      return internal::FromRocksDb(s, StrCat("reading the last event of '", stream, "'"));
    }
    EventView last_view;
    codec_internal::RecordDecoder decoder = NewRecordDecoder();
    absl::Status st = decoder.Decode(std::string_view(last.data(), last.size()),
                                     options_.verify_checksums_on_read, &last_view);
    if (!st.ok()) {
      return absl::IsDataLoss(st) ? Damaged(head.last_position, StdSv(st.message())) : st;
    }
    last_recorded_at = last_view.recorded_at_us;
  }
  if (rule.Visible(head.version, head.last_position, last_recorded_at)) return absl::OkStatus();
  if (meta.record.info.deleted != StreamDeletion::kNone) {
    return DeletedStreamError(stream, meta.record.info.deleted);
  }
  return absl::NotFoundError(StrCat("stream '", stream,
                                    "' has no visible event: the retention limits of its metadata "
                                    "hide all of its ",
                                    head.version, " events"));
}

absl::StatusOr<StreamInfo> EventStore::Impl::GetStream(std::string_view stream) const {
  ReaderLock follower_lock(&follower_mu_);
  ScopedSnapshot snapshot(db_.get(), options_.read_only);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();
  absl::StatusOr<internal::Head> head = ReadHead(ro, stream);
  if (!head.ok()) return head.status();
  const std::shared_ptr<const internal::RetentionView> view = retention();
  if (const internal::RetentionView::Entry* meta = view->Find(stream)) {
    RETURN_IF_ERROR(CheckVisible(
        ro, stream, *head, *meta,
        internal::RuleFor(meta->record, head->version, NowMicros(), view->limits_bound())));
  }
  return StreamInfo{std::string(stream), head->version, head->last_position};
}

absl::Status EventStore::Impl::ListStreams(std::string_view prefix,
                                           absl::FunctionRef<bool(const StreamInfo&)> visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_[internal::kHeadsFamily]));
  const std::shared_ptr<const internal::RetentionView> view = retention();
  StreamInfo info;
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    const std::string_view name(it->key().data(), it->key().size());
    if (!name.starts_with(prefix)) break;
    internal::Head head;
    if (!internal::DecodeHead(std::string_view(it->value().data(), it->value().size()), &head)) {
      return absl::DataLossError(StrCat("head of stream '", name, "' is malformed"));
    }
    // A deleted stream (hard, or soft and not appended to since) has
    // nothing visible: it is not listed.
    if (const internal::RetentionView::Entry* meta = view->Find(name);
        meta != nullptr && meta->record.info.deleted != StreamDeletion::kNone) {
      continue;
    }
    info.stream.assign(name);
    info.version = head.version;
    info.last_position = head.last_position;
    if (!visit(info)) break;
  }
  return internal::FromRocksDb(it->status(), "listing streams");
}

absl::Status EventStore::Impl::ScanStream(std::string_view stream, const ReadStreamOptions& options,
                                          absl::FunctionRef<bool(const EventView&)> visit) const {
  internal::ReadRecorder recorder(statistics(), Ticker::kStreamReads);
  ReaderLock follower_lock(&follower_mu_);
  ScopedSnapshot snapshot(db_.get(), options_.read_only);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();

  absl::StatusOr<internal::Head> read_head = ReadHead(ro, stream);
  if (!read_head.ok()) return read_head.status();
  const internal::Head head = *read_head;

  // Retention (eventstore/internal/retention.h): the stream's rule, and
  // kNotFound when nothing of it is visible. Visibility only grows with the
  // version (versions, times and positions grow together), so the last
  // event decides whether any is visible.
  const std::shared_ptr<const internal::RetentionView> retention_view = retention();
  const internal::RetentionView::Entry* meta = retention_view->Find(stream);
  internal::StreamRule rule;
  if (meta != nullptr) {
    rule =
        internal::RuleFor(meta->record, head.version, NowMicros(), retention_view->limits_bound());
    RETURN_IF_ERROR(CheckVisible(ro, stream, head, *meta, rule));
  }

  // The inclusive version range in reading order, as ReadStreamOptions
  // defines it: bounds clamped to 1..head.version (and, forward, to the
  // first version retention may show), empty when `last` lies before
  // `first`. `limit` counts visible events, in the loop below.
  const bool forward = options.direction == Direction::kForward;
  uint64_t first, last;
  if (forward) {
    first = std::max<uint64_t>({1, options.from_version, rule.FirstPossibleVersion()});
    last = options.to_version == 0 ? head.version : std::min(options.to_version, head.version);
    if (first > last) return absl::OkStatus();
  } else {
    first = options.from_version == 0 ? head.version : std::min(options.from_version, head.version);
    last = std::max<uint64_t>({1, options.to_version, rule.FirstPossibleVersion()});
    if (first < last) return absl::OkStatus();
  }

  // Versions -> positions from the stream index; records from a second
  // iterator over the log that steps with Next()/Prev() while the stream's
  // positions are adjacent (a stream written in batches, or a store of few
  // streams) and seeks otherwise. Measured by the aggregate-load benchmark:
  // 2-2.5x less CPU per event than point lookups (MultiGet) per position.
  //
  // Scavenging (docs/lifecycle.md): a scavenged event is a stub in the log,
  // skipped here, and its index entry may be gone, so versions may jump. A
  // compaction may scavenge between this read's steps (filters do not wait
  // for snapshots): an index entry read before is then answered by a stub,
  // which is skipped like any other; a reader never delivers a stub.
  std::unique_ptr<rocksdb::Iterator> index(
      db_->NewIterator(ro, families_[internal::kStreamIndexFamily]));
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(ro, families_[internal::kLogFamily]));
  const std::string start_key = internal::StreamIndexKey(head.stream_id, first);
  if (forward) {
    index->Seek(start_key);
  } else {
    index->SeekForPrev(start_key);
  }
  EventView view;
  codec_internal::RecordDecoder decoder = NewRecordDecoder();
  std::string stub_scratch;
  uint64_t previous_position = 0;
  uint64_t delivered = 0;
  for (; (options.limit == 0 || delivered < options.limit) && index->Valid();
       forward ? index->Next() : index->Prev()) {
    const rocksdb::Slice k = index->key();
    if (k.size() != 16 ||
        coding::DecodeBigEndian64(std::string_view(k.data(), 8)) != head.stream_id) {
      break;
    }
    const uint64_t version = coding::DecodeBigEndian64(std::string_view(k.data() + 8, 8));
    if (forward ? version > last : version < last) break;
    if (index->value().size() != 8) {
      return absl::DataLossError(StrCat("stream index entry of '", stream, "' version ", version,
                                        " is malformed; run annals verify"));
    }
    const uint64_t position = coding::DecodeBigEndian64(std::string_view(index->value().data(), 8));
    if (previous_position != 0 && log->Valid() && forward && position == previous_position + 1) {
      log->Next();
    } else if (previous_position != 0 && log->Valid() && !forward &&
               position + 1 == previous_position) {
      log->Prev();
    } else {
      log->Seek(coding::BigEndian64(position));
    }
    previous_position = position;
    if (!log->Valid() || log->key().size() != 8 ||
        coding::DecodeBigEndian64(std::string_view(log->key().data(), 8)) != position) {
      if (!log->status().ok()) break;
      return Damaged(position, "missing from the log but listed in the stream index");
    }
    const std::string_view bytes(log->value().data(), log->value().size());
    if (codec_internal::IsStub(bytes)) {
      codec_internal::StubView stub;
      absl::Status st = codec_internal::DecodeStub(bytes, &stub_scratch, &stub);
      if (!st.ok()) return Damaged(position, StdSv(st.message()));
      if (stub.position != position || stub.stream != stream || stub.version != version) {
        return Damaged(position, "its stub belongs to another place than its index entry says");
      }
      continue;
    }
    absl::Status st = decoder.Decode(bytes, options_.verify_checksums_on_read, &view);
    if (!st.ok()) return absl::IsDataLoss(st) ? Damaged(position, StdSv(st.message())) : st;
    if (view.stream != stream || view.position != position || view.version != version) {
      return Damaged(position, "it belongs to another place than its index entry says");
    }
    if (meta == nullptr || rule.Visible(view.version, view.position, view.recorded_at_us)) {
      ++recorder.events;
      ++delivered;
      if (!visit(view)) return absl::OkStatus();
    }
  }
  if (!index->status().ok()) {
    return internal::FromRocksDb(index->status(),
                                 StrCat("reading the index of stream '", stream, "'"));
  }
  if (!log->status().ok()) {
    return internal::FromRocksDb(log->status(),
                                 StrCat("reading the log for stream '", stream, "'"));
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::ScanCanonical(
    uint64_t from_position,
    absl::FunctionRef<bool(const EventView&, const codec_internal::PayloadEncoding&)> visit_event,
    absl::FunctionRef<bool(const codec_internal::StubView&)> visit_stub) const {
  ReaderLock follower_lock(&follower_mu_);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_[internal::kLogFamily]));
  uint64_t expected = std::max<uint64_t>(1, from_position);
  EventView view;
  codec_internal::PayloadEncoding encoding;
  codec_internal::RecordDecoder decoder;  // No cipher: nothing is opened.
  std::string scratch;
  for (it->Seek(coding::BigEndian64(expected)); it->Valid(); it->Next(), ++expected) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 8 || coding::DecodeBigEndian64(std::string_view(key.data(), 8)) != expected) {
      return absl::DataLossError(StrCat("the global log has a gap or a bad key at position ",
                                        expected, "; run annals verify"));
    }
    const std::string_view bytes(it->value().data(), it->value().size());
    if (codec_internal::IsStub(bytes)) {
      codec_internal::StubView stub;
      absl::Status st = codec_internal::DecodeStub(bytes, &scratch, &stub);
      if (!st.ok()) return Damaged(expected, StdSv(st.message()));
      if (stub.position != expected) return Damaged(expected, "its key and stub disagree");
      if (!visit_stub(stub)) return absl::OkStatus();
      continue;
    }
    absl::Status st = decoder.DecodeCanonical(bytes, /*verify_checksum=*/true, &view, &encoding);
    if (!st.ok()) return absl::IsDataLoss(st) ? Damaged(expected, StdSv(st.message())) : st;
    if (view.position != expected) return Damaged(expected, "its key and content disagree");
    if (!visit_event(view, encoding)) return absl::OkStatus();
  }
  if (!it->status().ok()) {
    return internal::FromRocksDb(it->status(),
                                 StrCat("reading the global log near position ", expected));
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::ScanAll(const ReadAllOptions& options,
                                       absl::FunctionRef<bool(const EventView&)> visit) const {
  internal::ReadRecorder recorder(statistics(), Ticker::kAllScans);
  const bool forward = options.direction == Direction::kForward;
  rocksdb::ReadOptions ro;
  ro.adaptive_readahead = forward;  // RocksDB's readahead serves forward scans.
  // One iterator is one consistent view (its implicit snapshot): the end of
  // the log is where that view ends.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, families_[internal::kLogFamily]));
  auto key_position = [&it]() -> uint64_t {
    const rocksdb::Slice key = it->key();
    return key.size() == 8 ? coding::DecodeBigEndian64(std::string_view(key.data(), 8)) : 0;
  };
  auto read_failed = [&it](uint64_t near) {
    return internal::FromRocksDb(it->status(),
                                 StrCat("reading the global log near position ", near));
  };

  // `expected` is the next position in reading order and `bound` the last
  // one to deliver (ReadAllOptions: inclusive, clamped; empty when it lies
  // before the first).
  uint64_t expected;
  uint64_t bound;
  if (forward) {
    expected = std::max<uint64_t>(1, options.from_position);
    bound = options.to_position == 0 ? UINT64_MAX : options.to_position;
    if (expected > bound) return absl::OkStatus();
    it->Seek(coding::BigEndian64(expected));
  } else {
    it->SeekToLast();
    if (!it->Valid()) return it->status().ok() ? absl::OkStatus() : read_failed(0);
    const uint64_t end = key_position();
    if (end == 0) {
      return absl::DataLossError("the global log ends with a bad key; run annals verify");
    }
    expected = options.from_position == 0 ? end : std::min(options.from_position, end);
    bound = std::max<uint64_t>(1, options.to_position);
    if (expected < bound) return absl::OkStatus();
    if (expected != end) it->SeekForPrev(coding::BigEndian64(expected));
  }

  // Retention: with no stream metadata at all (the common case) nothing is
  // looked up per event.
  const std::shared_ptr<const internal::RetentionView> retention_view = retention();
  const bool filter_retention = retention_view->has_stream_metadata();
  const uint64_t limits_bound = filter_retention ? retention_view->limits_bound() : 0;
  const int64_t now_us = filter_retention ? NowMicros() : 0;

  uint64_t delivered = 0;
  bool stopped = false;  // By the visitor or the limit.
  std::string stub_scratch;
  EventView view;
  codec_internal::RecordDecoder decoder = NewRecordDecoder();
  for (; it->Valid() && (forward ? expected <= bound : expected >= bound);
       forward ? it->Next() : it->Prev()) {
    const uint64_t position = key_position();
    if (position != expected) {
      return absl::DataLossError(StrCat("the global log has a gap or a bad key at position ",
                                        expected, "; run annals verify"));
    }
    expected = forward ? expected + 1 : expected - 1;
    const std::string_view bytes(it->value().data(), it->value().size());
    if (codec_internal::IsStub(bytes)) {
      // A scavenged event: its position stays, no reader delivers it.
      codec_internal::StubView stub;
      absl::Status st = codec_internal::DecodeStub(bytes, &stub_scratch, &stub);
      if (!st.ok()) return Damaged(position, StdSv(st.message()));
      if (stub.position != position) return Damaged(position, "its key and stub disagree");
      ++recorder.scanned;
      continue;
    }
    absl::Status st = decoder.Decode(bytes, options_.verify_checksums_on_read, &view);
    if (!st.ok()) return absl::IsDataLoss(st) ? Damaged(position, StdSv(st.message())) : st;
    if (view.position != position) return Damaged(position, "its key and content disagree");
    ++recorder.scanned;
    if (!options.event_types.empty() &&
        std::find(options.event_types.begin(), options.event_types.end(), view.type) ==
            options.event_types.end()) {
      continue;
    }
    if (!options.stream_prefix.empty() && !view.stream.starts_with(options.stream_prefix)) {
      continue;
    }
    if (filter_retention) {
      if (const internal::RetentionView::Entry* meta = retention_view->Find(view.stream);
          meta != nullptr &&
          !internal::RuleFor(meta->record, meta->last_version.load(std::memory_order_acquire),
                             now_us, limits_bound)
               .Visible(view.version, view.position, view.recorded_at_us)) {
        continue;
      }
    }
    ++recorder.events;
    if (!visit(view) || (options.limit != 0 && ++delivered >= options.limit)) {
      stopped = true;
      break;
    }
  }
  if (!it->status().ok()) return read_failed(expected);
  // Backward, the log must reach down to `bound`: positions start at 1 with
  // no gap, so running out before it means records are missing.
  if (!forward && !stopped && expected >= bound) {
    return absl::DataLossError(
        StrCat("the global log lacks position ", expected, " and below; run annals verify"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RecordedEvent> EventStore::Impl::ReadEvent(const Uuid& id) const {
  if (id.is_nil()) {
    return absl::InvalidArgumentError(
        "the nil UUID names no event (an event appended without an id gets a generated one); "
        "give the id of a stored event");
  }
  // Two reads (the index, then the log) from one view.
  ReaderLock follower_lock(&follower_mu_);
  ScopedSnapshot snapshot(db_.get(), options_.read_only);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();

  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(ro, families_[internal::kEventIdsFamily],
                               rocksdb::Slice(id.AsBytes().data(), id.AsBytes().size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(StrCat("no event has id ", id.ToString()));
  if (!s.ok()) return internal::FromRocksDb(s, StrCat("looking up event id ", id.ToString()));
  internal::EventIdEntry entry;
  if (!internal::DecodeEventIdEntry(std::string_view(value.data(), value.size()), &entry)) {
    return absl::DataLossError(
        StrCat("event-id index entry of ", id.ToString(), " is malformed; run annals verify"));
  }

  rocksdb::PinnableSlice record;
  s = db_->Get(ro, families_[internal::kLogFamily], coding::BigEndian64(entry.position), &record);
  if (s.IsNotFound()) {
    return absl::DataLossError(StrCat("the event-id index places ", id.ToString(), " at position ",
                                      entry.position,
                                      ", which is not in the log; run annals verify"));
  }
  if (!s.ok()) {
    return internal::FromRocksDb(s, StrCat("reading the log at position ", entry.position));
  }
  if (codec_internal::IsStub(std::string_view(record.data(), record.size()))) {
    // Scavenged after the index entry was read, or before the index filter
    // dropped the entry: the event is gone for every reader.
    std::string scratch;
    codec_internal::StubView stub;
    absl::Status st =
        codec_internal::DecodeStub(std::string_view(record.data(), record.size()), &scratch, &stub);
    if (!st.ok()) return Damaged(entry.position, StdSv(st.message()));
    return absl::NotFoundError(StrCat("no event has id ", id.ToString(), " (it was scavenged)"));
  }
  EventView view;
  codec_internal::RecordDecoder decoder = NewRecordDecoder();
  absl::Status st = decoder.Decode(std::string_view(record.data(), record.size()),
                                   options_.verify_checksums_on_read, &view);
  if (!st.ok()) return absl::IsDataLoss(st) ? Damaged(entry.position, StdSv(st.message())) : st;
  if (view.id != id || view.position != entry.position || view.version != entry.version) {
    return Damaged(entry.position, StrCat("the event-id index places ", id.ToString(), " (version ",
                                          entry.version, ") there, but it holds ",
                                          view.id.ToString(), " (version ", view.version, ")"));
  }
  const std::shared_ptr<const internal::RetentionView> retention_view = retention();
  if (const internal::RetentionView::Entry* meta = retention_view->Find(view.stream);
      meta != nullptr &&
      !internal::RuleFor(meta->record, meta->last_version.load(std::memory_order_acquire),
                         NowMicros(), retention_view->limits_bound())
           .Visible(view.version, view.position, view.recorded_at_us)) {
    return absl::NotFoundError(StrCat("event ", id.ToString(), " (version ", view.version, " of '",
                                      view.stream, "') is no longer visible: ",
                                      meta->record.info.deleted != StreamDeletion::kNone
                                          ? "its stream was deleted"
                                          : "its stream's retention limits hide it"));
  }
  return view.ToOwned();
}

}  // namespace annals
