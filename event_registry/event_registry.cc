// EventRegistry: type tables, the upcaster chain and JSON rendering.

#include "annals/event_registry.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "annals/user_code.h"
#include "common/strings.h"
#include "event_registry/internal/fbs_json.h"

namespace annals {

struct EventRegistry::Rep {
  // Entries are heap-allocated so that Find()'s pointers stay valid.
  std::vector<std::unique_ptr<EventTypeInfo>> entries;
  absl::flat_hash_map<std::string, const EventTypeInfo*> by_name;
  absl::flat_hash_map<TypeKey, const EventTypeInfo*> by_key;
  // type -> (from_version -> upcaster)
  absl::flat_hash_map<std::string, std::map<uint32_t, Upcaster>> upcasters;
  internal::FbsJson json;
};

EventRegistry::EventRegistry() : rep_(std::make_unique<Rep>()) {}
EventRegistry::~EventRegistry() = default;

absl::Status EventRegistry::NotRegistered(std::string_view what) {
  return absl::NotFoundError(
      StrCat("event type '", what, "' is not registered; call EventRegistry::Register<E>()"));
}

absl::Status EventRegistry::AddSchema(std::string_view fbs_text) {
  return rep_->json.Add(fbs_text);
}

absl::Status EventRegistry::RegisterImpl(EventTypeInfo info) {
  if (info.type.empty()) return absl::InvalidArgumentError("event type name must not be empty");
  if (info.schema_version == 0) {
    return absl::InvalidArgumentError(
        StrCat("schema version of '", info.type, "' must be 1 or more"));
  }
  if (rep_->by_name.contains(Sv(info.type))) {
    return absl::AlreadyExistsError(StrCat("event type '", info.type, "' is registered twice"));
  }
  if (rep_->by_key.contains(info.cpp_type)) {
    return absl::AlreadyExistsError(
        StrCat("the C++ type of '", info.type, "' is already registered under another name"));
  }
  std::string qualified = rep_->json.Qualify(info.table);
  if (!qualified.empty()) info.table = std::move(qualified);
  auto entry = std::make_unique<EventTypeInfo>(std::move(info));
  rep_->by_name.emplace(entry->type, entry.get());
  rep_->by_key.emplace(entry->cpp_type, entry.get());
  rep_->entries.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status EventRegistry::AddUpcaster(std::string_view type, uint32_t from_version,
                                        Upcaster upcaster) {
  const EventTypeInfo* info = Find(type);
  if (info == nullptr) return NotRegistered(type);
  if (from_version == 0 || from_version >= info->schema_version) {
    return absl::InvalidArgumentError(StrCat("upcaster of '", type, "' from version ", from_version,
                                             " is useless: the current version is ",
                                             info->schema_version));
  }
  auto& chain = rep_->upcasters[std::string(type)];
  if (!chain.emplace(from_version, std::move(upcaster)).second) {
    return absl::AlreadyExistsError(
        StrCat("'", type, "' already has an upcaster from version ", from_version));
  }
  return absl::OkStatus();
}

const EventTypeInfo* EventRegistry::Find(std::string_view type) const {
  auto it = rep_->by_name.find(Sv(type));
  return it == rep_->by_name.end() ? nullptr : it->second;
}

const EventTypeInfo* EventRegistry::FindByKey(TypeKey key) const {
  auto it = rep_->by_key.find(key);
  return it == rep_->by_key.end() ? nullptr : it->second;
}

std::vector<const EventTypeInfo*> EventRegistry::types() const {
  std::vector<const EventTypeInfo*> out;
  for (const auto& e : rep_->entries) out.push_back(e.get());
  return out;
}

absl::StatusOr<std::string_view> EventRegistry::Upcast(std::string_view type,
                                                       uint32_t schema_version,
                                                       std::string_view payload,
                                                       std::string* scratch) const {
  const EventTypeInfo* info = Find(type);
  if (info == nullptr) return NotRegistered(type);
  if (schema_version > info->schema_version) {
    return absl::FailedPreconditionError(StrCat(
        "event '", type, "' was written with schema version ", schema_version,
        " but this code knows only up to version ", info->schema_version, "; upgrade the program"));
  }
  std::string_view bytes = payload;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    // FlatBuffers reads scalars in place: work on an aligned copy.
    *scratch = std::string(payload);
    bytes = *scratch;
  }
  if (schema_version < info->schema_version) {
    auto chain = rep_->upcasters.find(Sv(type));
    for (uint32_t v = schema_version; v < info->schema_version; ++v) {
      const Upcaster* step = nullptr;
      if (chain != rep_->upcasters.end()) {
        auto it = chain->second.find(v);
        if (it != chain->second.end()) step = &it->second;
      }
      if (step == nullptr) {
        return absl::FailedPreconditionError(StrCat(
            "event '", type, "' version ", schema_version, " needs an upcaster from version ", v,
            " to ", v + 1, "; register one with EventRegistry::AddUpcaster()"));
      }
      absl::StatusOr<std::string> next;
      try {
        next = (*step)(bytes);
      } catch (...) {
        return user_code_internal::StatusFromCurrentException(
            StrCat("upcaster of '", type, "' from version ", v));
      }
      if (!next.ok()) {
        return absl::DataLossError(StrCat("upcasting '", type, "' from version ", v,
                                          " failed: ", StdSv(next.status().message())));
      }
      *scratch = std::move(*next);
      bytes = *scratch;
    }
  }
  if (!info->verify(bytes)) {
    return absl::DataLossError(StrCat("payload of event '", type, "' (schema version ",
                                      schema_version, ") is not a valid ", info->table,
                                      " FlatBuffer"));
  }
  return bytes;
}

absl::StatusOr<std::string> EventRegistry::ToJson(std::string_view type, uint32_t schema_version,
                                                  std::string_view payload) const {
  std::string scratch;
  absl::StatusOr<std::string_view> bytes = Upcast(type, schema_version, payload, &scratch);
  if (!bytes.ok()) return bytes.status();
  return rep_->json.ToJson(Find(type)->table, *bytes);
}

std::optional<std::string> EventRegistry::RenderPayload(const RecordedEvent& event) const {
  if (event.content_type != ContentType::kFlatBuffers || Find(event.type) == nullptr) {
    return std::nullopt;
  }
  absl::StatusOr<std::string> json = ToJson(event.type, event.schema_version, event.payload);
  if (!json.ok()) return std::nullopt;
  return *std::move(json);
}

}  // namespace annals
