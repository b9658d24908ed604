// File: tests/common/files.h
//
// Whole-file reads and writes and line splitting, as tests need them: a
// missing file reads as empty (the assertion that follows says what was
// expected), a write that fails records a test failure.

#ifndef ANNALS_TESTS_COMMON_FILES_H_
#define ANNALS_TESTS_COMMON_FILES_H_

#include <string>
#include <vector>

namespace annals::testing {

// The whole file at `path`, bytes as they are; empty when it cannot be read.
std::string ReadFile(const std::string& path);

// Replaces the file at `path` with `data`; records a test failure when it
// cannot.
void WriteFile(const std::string& path, const std::string& data);

// `text` split at '\n'. A trailing newline ends the last line; it does not
// start an empty one. "" gives no lines.
std::vector<std::string> SplitLines(const std::string& text);

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_FILES_H_
