// Input validation of appends, on the caller's thread before a request is
// queued, so that the committer only ever sees well-formed requests: stream
// names, event types, sizes and ids within one call.

#include "eventstore/internal/append_validation.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace annals::internal {
namespace {

constexpr size_t kMaxStreamNameBytes = 512;
constexpr size_t kMaxEventTypeBytes = 256;
constexpr size_t kMaxSubjectBytes = 256;

size_t EventBytes(const NewEvent& e) {
  size_t n = 16 + e.type.size() + e.payload.size() + e.correlation_id.size() +
             e.causation_id.size() + e.subject.size();
  for (const auto& [k, v] : e.metadata) n += k.size() + v.size();
  return n;
}

// `name` quoted for an error message with every byte a terminal could act on
// escaped: C0 controls and DEL as \xNN (\t, \n, \r by name), backslash and
// quote escaped, and bytes of invalid UTF-8 as \xNN. Valid UTF-8 stays
// readable. Never echo raw control bytes: a message may reach a terminal or a
// log parser.
std::string QuotedName(std::string_view name) {
  const bool utf8 = IsValidUtf8(name);
  std::string out = "'";
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\' || c == '\'') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '\'';
  return out;
}

// Decodes the code point starting at text[*i] and advances *i past it.
// REQUIRES: `text` is valid UTF-8.
char32_t NextCodePoint(std::string_view text, size_t* i) {
  const auto c = static_cast<unsigned char>(text[*i]);
  const int length = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  char32_t cp = length == 1 ? c : c & (0x7f >> length);
  for (int k = 1; k < length; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[*i + k]) & 0x3f);
  }
  *i += length;
  return cp;
}

// Unicode's White_Space property (PropList.txt).
bool IsUnicodeWhitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000;
}

// Stream names are identifiers that end up in CLI output, JSON exports and
// logs: control characters would be invisible or act on a terminal there, and
// a name of only whitespace looks like no name at all. Both are refused.
}  // namespace

absl::Status ValidateStreamName(std::string_view stream) {
  if (stream.empty()) {
    return absl::InvalidArgumentError("stream name is empty; give each aggregate a stream id");
  }
  if (stream.size() > kMaxStreamNameBytes) {
    return absl::InvalidArgumentError(
        StrCat("stream name is ", stream.size(), " bytes; the limit is ", kMaxStreamNameBytes));
  }
  if (!IsValidUtf8(stream)) {
    return absl::InvalidArgumentError(
        StrCat("stream name ", QuotedName(stream), " is not valid UTF-8"));
  }
  for (size_t i = 0; i < stream.size(); ++i) {
    const auto c = static_cast<unsigned char>(stream[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat("stream name ", QuotedName(stream), " contains a control character (byte ", i,
                 "); stream names may not contain bytes 0x00-0x1f or 0x7f"));
    }
  }
  bool only_whitespace = true;
  for (size_t i = 0; only_whitespace && i < stream.size();) {
    only_whitespace = IsUnicodeWhitespace(NextCodePoint(stream, &i));
  }
  if (only_whitespace) {
    return absl::InvalidArgumentError(StrCat("stream name ", QuotedName(stream), " (",
                                             stream.size(),
                                             " bytes) is only whitespace; give a visible name"));
  }
  if (stream.front() == '$') {
    return absl::InvalidArgumentError(
        StrCat("stream name '", stream, "' starts with '$', which is reserved for system streams"));
  }
  return absl::OkStatus();
}

// Checks one call's input before it is queued, so that the committer sees
// only well-formed requests. Returns the call's size in bytes.
absl::StatusOr<size_t> ValidateAppend(absl::Span<const StreamAppend> parts,
                                      const Options& options) {
  if (parts.empty()) return absl::InvalidArgumentError("append has no streams");
  size_t total = 0;
  absl::flat_hash_set<std::string_view> streams;
  absl::flat_hash_set<Uuid> ids;
  for (const StreamAppend& part : parts) {
    if (absl::Status s = ValidateStreamName(part.stream); !s.ok()) return s;
    if (!streams.insert(part.stream).second) {
      return absl::InvalidArgumentError(StrCat(
          "stream '", part.stream, "' appears twice in one multi-stream append; merge its events"));
    }
    if (part.expected.kind() == ExpectedVersion::Kind::kExact &&
        part.expected.version() > (uint64_t{1} << 62)) {
      return absl::InvalidArgumentError(
          StrCat("expected version ", part.expected.version(), " is out of range"));
    }
    for (size_t i = 0; i < part.events.size(); ++i) {
      const NewEvent& e = part.events[i];
      auto where = [&] { return StrCat("event ", i, " of stream '", part.stream, "'"); };
      if (e.type.empty()) {
        return absl::InvalidArgumentError(StrCat(where(), " has an empty type"));
      }
      if (e.type.size() > kMaxEventTypeBytes || !IsValidUtf8(e.type)) {
        return absl::InvalidArgumentError(StrCat(
            where(), " has a type that is not UTF-8 of at most ", kMaxEventTypeBytes, " bytes"));
      }
      if (e.subject.size() > kMaxSubjectBytes || !IsValidUtf8(e.subject) ||
          std::any_of(e.subject.begin(), e.subject.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        return absl::InvalidArgumentError(
            StrCat(where(), " has a subject that is not UTF-8 of at most ", kMaxSubjectBytes,
                   " bytes without control characters; use an opaque id (e.g. a customer id)"));
      }
      if (e.schema_version == 0) {
        return absl::InvalidArgumentError(StrCat(where(), ": schema_version starts at 1"));
      }
      if (e.recorded_at_us < 0) {
        return absl::InvalidArgumentError(StrCat(where(), ": recorded_at_us is negative"));
      }
      const size_t bytes = EventBytes(e);
      if (bytes > options.max_event_bytes) {
        return absl::InvalidArgumentError(StrCat(where(), " is ", bytes,
                                                 " bytes; the limit (Options::max_event_bytes) is ",
                                                 options.max_event_bytes));
      }
      if (!e.id.is_nil() && !ids.insert(e.id).second) {
        return absl::InvalidArgumentError(StrCat(where(), " repeats event id ", e.id.ToString(),
                                                 "; every event needs its own id"));
      }
      total += bytes;
    }
  }
  if (total > options.max_append_bytes) {
    return absl::InvalidArgumentError(StrCat("append is ", total,
                                             " bytes; the limit (Options::max_append_bytes) is ",
                                             options.max_append_bytes));
  }
  return total;
}

}  // namespace annals::internal
