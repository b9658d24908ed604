// Renders FlatBuffers as JSON through flatc's own text generator, so the
// output follows the schema exactly (enum names, defaults, nested tables).

#include "event_registry/internal/fbs_json.h"

#include "common/strings.h"
#include "flatbuffers/idl.h"
#include "nlohmann/json.hpp"

namespace annals::internal {

FbsJson::FbsJson() = default;
FbsJson::~FbsJson() = default;

absl::Status FbsJson::Add(std::string_view fbs_text) {
  flatbuffers::IDLOptions opts;
  opts.strict_json = true;                     // quoted keys: real JSON for jq
  opts.indent_step = -1;                       // one line
  opts.output_default_scalars_in_json = true;  // auditors want every field
  opts.output_enum_identifiers = true;
  opts.natural_utf8 = true;
  auto parser = std::make_unique<flatbuffers::Parser>(opts);
  const std::string text(fbs_text);
  if (!parser->Parse(text.c_str())) {
    return absl::InvalidArgumentError(
        StrCat("the FlatBuffers schema does not parse: ", parser->error_));
  }
  parsers_.push_back(std::move(parser));
  return absl::OkStatus();
}

std::string FbsJson::Qualify(std::string_view table) const {
  for (const auto& parser : parsers_) {
    for (const flatbuffers::StructDef* def : parser->structs_.vec) {
      if (def->fixed) continue;
      const std::string qualified = def->defined_namespace->GetFullyQualifiedName(def->name);
      if (qualified == table || def->name == table) return qualified;
    }
  }
  return std::string();
}

absl::StatusOr<std::string> FbsJson::ToJson(std::string_view qualified_table,
                                            std::string_view bytes) const {
  // Qualify() also accepts an unqualified name (a type registered before its
  // schema was added).
  std::string name = Qualify(qualified_table);
  if (name.empty()) name.assign(qualified_table);
  for (const auto& parser : parsers_) {
    if (parser->LookupStruct(name) == nullptr) continue;
    std::string json;
    const void* root = flatbuffers::GetRoot<flatbuffers::Table>(bytes.data());
    if (!flatbuffers::GenerateTextFromTable(*parser, root, name, &json)) {
      return absl::DataLossError(StrCat("cannot render a ", name, " as JSON"));
    }
    // flatc's one-line output has irregular spacing; normalize to compact
    // JSON, keeping the schema's field order.
    nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(json, nullptr, false);
    if (parsed.is_discarded()) {
      return absl::DataLossError(StrCat("flatc rendered a ", name, " as invalid JSON"));
    }
    return parsed.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  return absl::FailedPreconditionError(
      StrCat("no registered schema defines table ", name, "; pass its .fbs to AddSchema()"));
}

}  // namespace annals::internal
