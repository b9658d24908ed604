// File: eventstore/internal/keys.h
//
// Column families and key grammar of store format version 1 (also in
// docs/format.md). All integers in keys are big-endian so that byte order is
// numeric order.
//
//   default      "format_version"           -> decimal format version ("1")
//                "next_stream_id"           -> be64 next numeric stream id
//   log          position:be64              -> Record (schemas/record.fbs)
//   stream_index stream_id:be64 version:be64 -> position:be64
//   heads        stream name (raw bytes)    -> Head (see EncodeHead)
//   event_ids    event id:16                -> position:be64 stream_id:be64 version:be64
//   snapshots, checkpoints, read_models, parked: owned by the snapshot and
//                projection modules (see their headers).

#ifndef ANNALS_EVENTSTORE_INTERNAL_KEYS_H_
#define ANNALS_EVENTSTORE_INTERNAL_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace annals::internal {

inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kNextStreamIdKey = "next_stream_id";

enum Family : int {
  kDefaultFamily = 0,
  kLogFamily,
  kStreamIndexFamily,
  kHeadsFamily,
  kEventIdsFamily,
  kSnapshotsFamily,
  kCheckpointsFamily,
  kReadModelsFamily,
  kParkedFamily,
  kFamilyCount,
};

inline constexpr std::array<std::string_view, kFamilyCount> kFamilyNames = {
    "default",   "log",         "stream_index", "heads", "event_ids",
    "snapshots", "checkpoints", "read_models",  "parked"};

// A stream head: what the committer needs to check and extend a stream.
struct Head {
  uint64_t stream_id = 0;
  uint64_t version = 0;
  uint64_t last_position = 0;
};

inline std::string EncodeHead(const Head& h) {
  std::string out;
  coding::PutBigEndian64(&out, h.stream_id);
  coding::PutBigEndian64(&out, h.version);
  coding::PutBigEndian64(&out, h.last_position);
  return out;
}

inline bool DecodeHead(std::string_view in, Head* h) {
  if (in.size() != 24) return false;
  h->stream_id = coding::DecodeBigEndian64(in);
  h->version = coding::DecodeBigEndian64(in.substr(8));
  h->last_position = coding::DecodeBigEndian64(in.substr(16));
  return true;
}

inline std::string StreamIndexKey(uint64_t stream_id, uint64_t version) {
  std::string out;
  out.reserve(16);
  coding::PutBigEndian64(&out, stream_id);
  coding::PutBigEndian64(&out, version);
  return out;
}

struct EventIdEntry {
  uint64_t position = 0;
  uint64_t stream_id = 0;
  uint64_t version = 0;
};

inline std::string EncodeEventIdEntry(const EventIdEntry& e) {
  std::string out;
  coding::PutBigEndian64(&out, e.position);
  coding::PutBigEndian64(&out, e.stream_id);
  coding::PutBigEndian64(&out, e.version);
  return out;
}

inline bool DecodeEventIdEntry(std::string_view in, EventIdEntry* e) {
  if (in.size() != 24) return false;
  e->position = coding::DecodeBigEndian64(in);
  e->stream_id = coding::DecodeBigEndian64(in.substr(8));
  e->version = coding::DecodeBigEndian64(in.substr(16));
  return true;
}

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_KEYS_H_
