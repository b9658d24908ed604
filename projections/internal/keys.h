// File: projections/internal/keys.h
//
// Key grammar of the projection module (store format version 1; also in
// docs/projections.md). Names (projection, table) are 1..128 bytes without
// NUL; integers are big-endian so that byte order is numeric order.
//
//   read_models  name 0x00 generation:be32 table 0x00 key      -> value
//   checkpoints  'A' name                                       -> active generation:be32
//                'C' name 0x00 generation:be32                  -> position:be64
//                'H' name                                       -> Health (EncodeHealth)
//   parked       name 0x00 position:be64                        -> Parked (EncodeParked)
//
// A generation is one build of a projection's tables; a side-by-side rebuild
// builds generation g+1 next to g and switches 'A' in one WriteBatch. A
// missing 'A' means generation 1.

#ifndef ANNALS_PROJECTIONS_INTERNAL_KEYS_H_
#define ANNALS_PROJECTIONS_INTERNAL_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "annals/projection.h"

namespace annals::projections_internal {

inline constexpr size_t kMaxNameBytes = 128;

// kInvalidArgument unless `name` is 1..128 bytes without NUL.
absl::Status ValidateName(std::string_view what, std::string_view name);

// read_models: name 0x00 generation.
std::string GenerationPrefix(std::string_view name, uint32_t generation);
// The smallest key greater than every key starting with `prefix` ("" when
// there is none, i.e. the prefix is all 0xff).
std::string PrefixSuccessor(std::string_view prefix);

std::string ActiveGenerationKey(std::string_view name);
// The active-generation value: generation:be32. DecodeGeneration() reads the
// first 4 bytes; the caller checks that there are exactly 4 (anything else is
// a malformed record).
std::string EncodeGeneration(uint32_t generation);
uint32_t DecodeGeneration(std::string_view in);
std::string CheckpointKey(std::string_view name, uint32_t generation);
std::string HealthKey(std::string_view name);
std::string ParkedPrefix(std::string_view name);
std::string ParkedKey(std::string_view name, uint64_t position);

// What a runner records about itself, for status readers in any process.
struct Health {
  ProjectionState state = ProjectionState::kStopped;
  ProjectionMode mode = ProjectionMode::kAsync;
  int64_t heartbeat_us = 0;
  int64_t advanced_at_us = 0;
  int64_t stall_after_us = 0;
  int64_t heartbeat_every_us = 0;
  std::string error;
};
// Health := state:u8 mode:u8 heartbeat_us:be64 advanced_at_us:be64
//           stall_after_us:be64 heartbeat_every_us:be64 error(rest)
std::string EncodeHealth(const Health& h);
bool DecodeHealth(std::string_view in, Health* h);

// Parked := attempts:be32 parked_at_us:be64 version:be64 stream:str type:str
//           error(rest), str := length:be32 bytes
std::string EncodeParked(const ParkedEvent& p);
bool DecodeParked(std::string_view in, ParkedEvent* p);

}  // namespace annals::projections_internal

#endif  // ANNALS_PROJECTIONS_INTERNAL_KEYS_H_
