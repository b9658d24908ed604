// Events as JSON (docs/cli.md): RenderEvent() writes them for read, all and
// export; ParseEvent() reads them for append (stdin) and import.
//
// Round trip: import must reproduce every stored byte, because the SHA-256
// chain covers the exact payload. A JSON payload that nlohmann re-serializes
// to the same bytes (what `annals append` stores) travels as "data" alone;
// any other payload also carries its exact bytes in "payload_base64" (export
// only) or travels as "data_base64".

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

std::string Base64(std::string_view bytes) { return absl::Base64Escape(Sv(bytes)); }

// Parses JSON text without exceptions; a discarded value on error.
// The deepest nesting of arrays and objects in `text` (brackets inside
// strings do not count), stopping once past `limit`.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

absl::Status FieldError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("field \"", field, "\" ", what));
}

absl::StatusOr<std::string> GetString(const Json& object, const char* field) {
  const Json& v = object.at(field);
  if (!v.is_string()) return FieldError(field, "must be a string");
  return v.get<std::string>();
}

absl::StatusOr<uint64_t> GetUnsigned(const Json& object, const char* field) {
  const Json& v = object.at(field);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return FieldError(field, "must be a non-negative integer");
  }
  return v.get<uint64_t>();
}

absl::StatusOr<ContentType> ParseContentType(std::string_view name) {
  for (ContentType t : {ContentType::kBytes, ContentType::kJson, ContentType::kFlatBuffers}) {
    if (ContentTypeName(t) == name) return t;
  }
  return FieldError("content_type", "must be \"json\", \"flatbuffers\" or \"bytes\"");
}

absl::StatusOr<std::string> Unbase64(const Json& object, const char* field) {
  absl::StatusOr<std::string> text = GetString(object, field);
  if (!text.ok()) return text.status();
  std::string bytes;
  if (!absl::Base64Unescape(Sv(*text), &bytes)) return FieldError(field, "is not valid base64");
  return bytes;
}

}  // namespace

Json ParseJson(std::string_view text) {
  if (NestingDepth(text, kMaxJsonDepth) > kMaxJsonDepth) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

Json RenderEvent(const EventView& e, const CliOptions& options, RenderMode mode) {
  Json j;
  j["position"] = e.position;
  j["stream"] = e.stream;
  j["version"] = e.version;
  j["id"] = e.id.ToString();
  j["type"] = e.type;
  j["schema_version"] = e.schema_version;
  j["recorded_at"] = FormatTimestampMicros(e.recorded_at_us);
  j["correlation_id"] = e.correlation_id;
  j["causation_id"] = e.causation_id;
  Json metadata = Json::object();
  for (const auto& [k, v] : e.metadata) metadata[std::string(k)] = v;
  j["metadata"] = std::move(metadata);
  if (!e.subject.empty()) j["subject"] = e.subject;
  if (e.erased) {
    // Crypto-shredded (EventStore::ForgetSubject): no data to render.
    j["erased"] = true;
    j["content_type"] = ContentTypeName(e.content_type);
    j["hash"] = HexEncode(e.hash);
    return j;
  }

  // Whether "data" alone lets import reproduce the payload.
  bool exact = false;
  bool rendered = false;
  if (e.content_type == ContentType::kJson) {
    Json data = ParseJson(e.payload);
    if (!data.is_discarded()) {
      exact = data.dump(-1, ' ', false, Json::error_handler_t::replace) == e.payload;
      j["data"] = std::move(data);
      rendered = true;
    }
  } else if (options.render_payload) {
    std::optional<std::string> text = options.render_payload(e.ToOwned());
    if (text.has_value()) {
      Json data = ParseJson(*text);
      if (!data.is_discarded()) {
        j["data"] = std::move(data);
        rendered = true;
      }
    }
  }
  if (!rendered) {
    j["data_base64"] = Base64(e.payload);
    exact = true;
  }
  j["content_type"] = ContentTypeName(e.content_type);
  j["hash"] = HexEncode(e.hash);
  if (mode == RenderMode::kExport && !exact) j["payload_base64"] = Base64(e.payload);
  return j;
}

Json RenderSealedEvent(const EventView& event, uint8_t cipher, uint8_t compression,
                       const CliOptions& options) {
  EventView envelope = event;
  envelope.erased = true;  // Renders the envelope without data.
  Json j = RenderEvent(envelope, options, RenderMode::kExport);
  j.erase("erased");
  Json sealed;
  sealed["cipher"] = cipher;
  sealed["compression"] = compression == 0 ? "identity" : "zstd";
  j["sealed"] = std::move(sealed);
  j["payload_base64"] = Base64(event.payload);
  return j;
}

NewEvent ParsedEvent::View(bool keep_recorded_at) const {
  metadata_views_.clear();
  for (const auto& [k, v] : metadata) metadata_views_.emplace_back(k, v);
  NewEvent e;
  e.id = id;
  e.type = type;
  e.schema_version = schema_version;
  e.content_type = content_type;
  e.payload = payload;
  e.correlation_id = correlation_id;
  e.causation_id = causation_id;
  e.metadata = metadata_views_;
  e.subject = subject;
  if (keep_recorded_at) e.recorded_at_us = recorded_at_us;
  return e;
}

absl::StatusOr<ParsedEvent> ParseEvent(const Json& o) {
  if (!o.is_object()) return absl::InvalidArgumentError("an event must be a JSON object");
  ParsedEvent e;
  if (o.contains("position")) {
    absl::StatusOr<uint64_t> v = GetUnsigned(o, "position");
    if (!v.ok()) return v.status();
    e.position = *v;
  }
  if (o.contains("version")) {
    absl::StatusOr<uint64_t> v = GetUnsigned(o, "version");
    if (!v.ok()) return v.status();
    e.version = *v;
  }
  if (o.contains("stream")) {
    absl::StatusOr<std::string> v = GetString(o, "stream");
    if (!v.ok()) return v.status();
    e.stream = std::move(*v);
  }
  if (o.contains("id") && !o.at("id").is_null()) {
    absl::StatusOr<std::string> v = GetString(o, "id");
    if (!v.ok()) return v.status();
    absl::StatusOr<Uuid> id = Uuid::Parse(*v);
    if (!id.ok()) return FieldError("id", "is not a UUID (8-4-4-4-12 hex digits)");
    e.id = *id;
  }
  if (!o.contains("type")) return FieldError("type", "is required");
  {
    absl::StatusOr<std::string> v = GetString(o, "type");
    if (!v.ok()) return v.status();
    e.type = std::move(*v);
  }
  if (o.contains("schema_version")) {
    absl::StatusOr<uint64_t> v = GetUnsigned(o, "schema_version");
    if (!v.ok()) return v.status();
    if (*v == 0 || *v > std::numeric_limits<uint32_t>::max()) {
      return FieldError("schema_version", "must be between 1 and 4294967295");
    }
    e.schema_version = static_cast<uint32_t>(*v);
  }
  if (o.contains("recorded_at") && !o.at("recorded_at").is_null()) {
    absl::StatusOr<std::string> v = GetString(o, "recorded_at");
    if (!v.ok()) return v.status();
    absl::StatusOr<int64_t> us = ParseTimestampMicros(*v);
    if (!us.ok()) return FieldError("recorded_at", StdSv(us.status().message()));
    if (*us <= 0) return FieldError("recorded_at", "must be after 1970-01-01T00:00:00Z");
    e.recorded_at_us = *us;
  }
  for (auto [field, target] :
       {std::pair{"correlation_id", &e.correlation_id}, std::pair{"causation_id", &e.causation_id},
        std::pair{"subject", &e.subject}}) {
    if (!o.contains(field) || o.at(field).is_null()) continue;
    absl::StatusOr<std::string> v = GetString(o, field);
    if (!v.ok()) return v.status();
    *target = std::move(*v);
  }
  if (o.contains("metadata") && !o.at("metadata").is_null()) {
    const Json& m = o.at("metadata");
    if (!m.is_object()) return FieldError("metadata", "must be an object of strings");
    for (const auto& [k, v] : m.items()) {
      if (!v.is_string()) {
        return FieldError("metadata", StrCat("entry \"", k, "\" must be a string"));
      }
      e.metadata.emplace_back(k, v.get<std::string>());
    }
  }
  std::optional<ContentType> declared;
  if (o.contains("content_type")) {
    absl::StatusOr<std::string> v = GetString(o, "content_type");
    if (!v.ok()) return v.status();
    absl::StatusOr<ContentType> t = ParseContentType(*v);
    if (!t.ok()) return t.status();
    declared = *t;
  }
  if (o.contains("payload_base64")) {
    absl::StatusOr<std::string> bytes = Unbase64(o, "payload_base64");
    if (!bytes.ok()) return bytes.status();
    e.payload = std::move(*bytes);
    e.content_type = declared.value_or(ContentType::kJson);
  } else if (o.contains("data_base64")) {
    absl::StatusOr<std::string> bytes = Unbase64(o, "data_base64");
    if (!bytes.ok()) return bytes.status();
    e.payload = std::move(*bytes);
    e.content_type = declared.value_or(ContentType::kBytes);
  } else if (o.contains("data")) {
    if (declared.has_value() && *declared != ContentType::kJson) {
      return FieldError("data", StrCat("is JSON but content_type is \"", ContentTypeName(*declared),
                                       "\"; give the bytes as payload_base64 (annals export "
                                       "writes it)"));
    }
    e.payload = o.at("data").dump(-1, ' ', false, Json::error_handler_t::strict);
    e.content_type = ContentType::kJson;
  } else {
    return FieldError("data", "is required (or data_base64 for a binary payload)");
  }
  if (o.contains("sealed") && !o.at("sealed").is_null()) {
    const Json& sealed = o.at("sealed");
    if (!sealed.is_object() || !sealed.contains("cipher") || !sealed.contains("compression") ||
        !sealed.at("cipher").is_number_unsigned() || !sealed.at("compression").is_string()) {
      return FieldError("sealed",
                        "must be {\"cipher\": N, \"compression\": \"identity\"|\"zstd\"}");
    }
    const uint64_t cipher = sealed.at("cipher").get<uint64_t>();
    const std::string compression = sealed.at("compression").get<std::string>();
    if (cipher != 1) {
      return FieldError("sealed", "names a cipher this annals does not know (only 1, AES-256-GCM)");
    }
    if (compression != "identity" && compression != "zstd") {
      return FieldError("sealed", "has a compression other than \"identity\" or \"zstd\"");
    }
    if (!o.contains("payload_base64")) {
      return FieldError("payload_base64", "is required for a sealed event (the ciphertext)");
    }
    if (e.subject.empty()) return FieldError("subject", "is required for a sealed event");
    e.sealed_cipher = static_cast<uint8_t>(cipher);
    e.sealed_compression = compression == "zstd" ? 1 : 0;
  }
  if (o.contains("hash")) {
    absl::StatusOr<std::string> v = GetString(o, "hash");
    if (!v.ok()) return v.status();
    e.hash_hex = std::move(*v);
  }
  return e;
}

}  // namespace annals::cli
