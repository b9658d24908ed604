// Fuzz target: the JSON event parser of `annals append` (stdin) and
// `annals import` (cli/event_json.cc, ParseEvent), and its inverse, the
// export rendering (RenderEvent).
//
// Input: JSON Lines text, read line by line as import reads it (at most 64
// lines).
// Properties: parsing never crashes or throws; a refusal is kInvalidArgument;
// an accepted event, rendered as `annals export` writes it and parsed again,
// is the same event byte for byte (the hash chain covers the exact payload,
// so import must reproduce it); the display rendering is valid JSON; the
// NewEvent view carries the parsed fields.

#include <cstdint>
#include <sstream>
#include <string>

#include "cli/cli_internal.h"
#include "common/sha256.h"
#include "fuzz/fuzz_util.h"

namespace annals::fuzz {
namespace {

using cli::Json;
using cli::ParsedEvent;

// A stored event as the store would hold the parsed one.
EventView AsStored(const ParsedEvent& e, std::string_view hash) {
  EventView v;
  v.position = e.position.value_or(1);
  v.stream = e.stream;
  v.version = e.version.value_or(1);
  v.id = e.id;
  v.type = e.type;
  v.schema_version = e.schema_version;
  // The store stamps events that carry no time; import refuses time 0.
  v.recorded_at_us = e.recorded_at_us > 0 ? e.recorded_at_us : 1795000000123456;
  v.correlation_id = e.correlation_id;
  v.causation_id = e.causation_id;
  for (const auto& [k, value] : e.metadata) v.metadata.emplace_back(k, value);
  v.content_type = e.content_type;
  v.payload = e.payload;
  v.hash = hash;
  return v;
}

void CheckLine(const std::string& line) {
  const Json object = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return;
  absl::StatusOr<ParsedEvent> parsed = cli::ParseEvent(object);
  if (!parsed.ok()) {
    ANNALS_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
                      "ParseEvent refused ", line, " with ", parsed.status().ToString());
    return;
  }
  const ParsedEvent& e = *parsed;

  for (bool keep : {false, true}) {
    const NewEvent n = e.View(keep);
    ANNALS_FUZZ_CHECK(
        n.id == e.id && n.type == e.type && n.payload == e.payload &&
            n.content_type == e.content_type && n.schema_version == e.schema_version &&
            n.correlation_id == e.correlation_id && n.causation_id == e.causation_id &&
            n.metadata.size() == e.metadata.size() &&
            n.recorded_at_us == (keep ? e.recorded_at_us : 0),
        "ParsedEvent::View differs from the parsed event of ", line);
  }

  const std::string hash(Sha256::kSize, '\x5a');
  const EventView stored = AsStored(e, hash);
  const CliOptions options;
  const std::string display = cli::RenderEvent(stored, options, cli::RenderMode::kDisplay)
                                  .dump(-1, ' ', false, Json::error_handler_t::replace);
  ANNALS_FUZZ_CHECK(!Json::parse(display, nullptr, false).is_discarded(),
                    "the display rendering is not JSON: ", display);

  const std::string exported = cli::RenderEvent(stored, options, cli::RenderMode::kExport)
                                   .dump(-1, ' ', false, Json::error_handler_t::replace);
  const Json again_json = Json::parse(exported, nullptr, false);
  ANNALS_FUZZ_CHECK(!again_json.is_discarded(), "the export line is not JSON: ", exported);
  absl::StatusOr<ParsedEvent> again = cli::ParseEvent(again_json);
  ANNALS_FUZZ_CHECK(again.ok(), "the export line of an accepted event is refused (",
                    again.status().ToString(), "): ", exported, " (from ", line, ")");
  const ParsedEvent& r = *again;
  ANNALS_FUZZ_CHECK(r.position == stored.position && r.version == stored.version &&
                        r.stream == e.stream && r.id == e.id && r.type == e.type &&
                        r.schema_version == e.schema_version &&
                        r.recorded_at_us == stored.recorded_at_us &&
                        r.correlation_id == e.correlation_id && r.causation_id == e.causation_id,
                    "export then import changes a field: ", line, " -> ", exported);
  ANNALS_FUZZ_CHECK(r.metadata == e.metadata, "export then import changes the metadata: ", line,
                    " -> ", exported);
  ANNALS_FUZZ_CHECK(r.content_type == e.content_type,
                    "export then import changes the content type: ", line, " -> ", exported);
  ANNALS_FUZZ_CHECK(r.payload == e.payload, "export then import changes the payload bytes: ", line,
                    " -> ", exported);
  ANNALS_FUZZ_CHECK(r.hash_hex == HexEncode(hash),
                    "export then import changes the hash: ", exported);
}

}  // namespace
}  // namespace annals::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string line;
  for (int n = 0; n < 64 && std::getline(in, line); ++n) annals::fuzz::CheckLine(line);
  return 0;
}
