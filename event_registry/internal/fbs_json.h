// File: event_registry/internal/fbs_json.h
//
// FbsJson: renders FlatBuffers tables as JSON using flatc's parser loaded
// with .fbs text (the schemas the domain embeds in its binary). Internal to
// the event registry module; aggregates/aggregate.cc, which depends on it,
// also uses it to render aggregate state.
//
// Thread-safety: Add() must complete before concurrent use; ToJson() is const
// and only reads the parsed schemas.

#ifndef ANNALS_EVENT_REGISTRY_INTERNAL_FBS_JSON_H_
#define ANNALS_EVENT_REGISTRY_INTERNAL_FBS_JSON_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace flatbuffers {
class Parser;
struct StructDef;
}  // namespace flatbuffers

namespace annals::internal {

class FbsJson {
 public:
  FbsJson();
  ~FbsJson();

  // Parses one .fbs text. kInvalidArgument with flatc's message on error.
  absl::Status Add(std::string_view fbs_text);

  // The fully qualified name of the table called `table` (qualified or not)
  // in any added schema; empty when there is none.
  std::string Qualify(std::string_view table) const;

  // Compact JSON for the root table in `bytes`, typed `qualified_table`
  // (qualified or not).
  // The caller has verified `bytes`. kFailedPrecondition when the table is
  // unknown; kDataLoss when flatc cannot render it (e.g. invalid UTF-8).
  absl::StatusOr<std::string> ToJson(std::string_view qualified_table,
                                     std::string_view bytes) const;

 private:
  std::vector<std::unique_ptr<flatbuffers::Parser>> parsers_;
};

}  // namespace annals::internal

#endif  // ANNALS_EVENT_REGISTRY_INTERNAL_FBS_JSON_H_
