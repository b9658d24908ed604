// Non-template parts of annals/aggregate.h: state fingerprints, state JSON and
// error messages.

#include "annals/aggregate.h"

#include <map>
#include <memory>

#include "common/mutex.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "event_registry/internal/fbs_json.h"

namespace annals {

std::string StateFingerprint(const AggregateSpec& spec) {
  Sha256 sha;
  sha.Update(spec.state_schema.data(), spec.state_schema.size());
  sha.Update("\0", 1);
  sha.Update(spec.state_table.data(), spec.state_table.size());
  sha.Update("\0", 1);
  const std::string version = StrCat(spec.state_version);
  sha.Update(version.data(), version.size());
  const Sha256::Digest digest = sha.Finish();
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<std::string> StateToJson(const AggregateSpec& spec, std::string_view state_bytes) {
  // One parsed schema per distinct state schema text, kept for the process's
  // lifetime (a handful of aggregate types).
  static Mutex mu;
  static auto* parsers ABSL_PT_GUARDED_BY(mu) =
      new std::map<std::string, std::unique_ptr<internal::FbsJson>>();
  const internal::FbsJson* json = nullptr;
  std::string table;
  {
    MutexLock lock(&mu);
    auto& slot = (*parsers)[std::string(spec.state_schema)];
    if (slot == nullptr) {
      auto parsed = std::make_unique<internal::FbsJson>();
      absl::Status status = parsed->Add(spec.state_schema);
      if (!status.ok()) return status;
      slot = std::move(parsed);
    }
    json = slot.get();
    table = json->Qualify(spec.state_table);
  }
  if (table.empty()) {
    return absl::FailedPreconditionError(StrCat("the state schema of aggregate '", spec.name,
                                                "' has no table '", spec.state_table, "'"));
  }
  return json->ToJson(table, state_bytes);
}

namespace aggregate_internal {

absl::Status WrongVersion(std::string_view id, uint64_t got, uint64_t have) {
  return absl::InvalidArgumentError(
      StrCat("event version ", got, " does not follow version ", have, " of aggregate '", id,
             "': events must be applied in stream order without gaps"));
}

absl::Status UnknownEvent(std::string_view aggregate, std::string_view type) {
  return absl::FailedPreconditionError(StrCat("aggregate '", aggregate,
                                              "' has no Apply() for event type '", type,
                                              "'; add the table to its Events list"));
}

absl::Status ApplyThrew(std::string_view aggregate, std::string_view type) {
  return user_code_internal::StatusFromCurrentException(
      StrCat("aggregate '", aggregate, "' Apply() of '", type, "'"));
}

absl::Status BadState(std::string_view aggregate) {
  return absl::DataLossError(
      StrCat("snapshot state of aggregate '", aggregate, "' is not a valid state table"));
}

}  // namespace aggregate_internal
}  // namespace annals
