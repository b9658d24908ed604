// File: common/crc32c.h
//
// CRC32C (Castagnoli), the per-record checksum. Uses the SSE4.2 instruction
// when the CPU has it (checked once at run time) and a table otherwise.
// Thread-safe: pure functions.

#ifndef ANNALS_COMMON_CRC32C_H_
#define ANNALS_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace annals::crc32c {

// Returns the CRC32C of data[0, n) continued from `crc` (the value returned
// for the bytes before; 0 to start).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

}  // namespace annals::crc32c

#endif  // ANNALS_COMMON_CRC32C_H_
