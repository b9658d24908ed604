#include "annals/event.h"

namespace annals {

std::string_view ContentTypeName(ContentType type) {
  switch (type) {
    case ContentType::kBytes:
      return "bytes";
    case ContentType::kJson:
      return "json";
    case ContentType::kFlatBuffers:
      return "flatbuffers";
  }
  return "bytes";
}

RecordedEvent EventView::ToOwned() const {
  RecordedEvent e;
  e.position = position;
  e.stream = std::string(stream);
  e.version = version;
  e.id = id;
  e.type = std::string(type);
  e.schema_version = schema_version;
  e.recorded_at_us = recorded_at_us;
  e.correlation_id = std::string(correlation_id);
  e.causation_id = std::string(causation_id);
  e.metadata.reserve(metadata.size());
  for (const auto& [k, v] : metadata) e.metadata.emplace_back(std::string(k), std::string(v));
  e.content_type = content_type;
  e.payload = std::string(payload);
  e.hash = std::string(hash);
  e.subject = std::string(subject);
  e.erased = erased;
  return e;
}

EventView RecordedEvent::View() const {
  EventView v;
  v.position = position;
  v.stream = stream;
  v.version = version;
  v.id = id;
  v.type = type;
  v.schema_version = schema_version;
  v.recorded_at_us = recorded_at_us;
  v.correlation_id = correlation_id;
  v.causation_id = causation_id;
  v.metadata.reserve(metadata.size());
  for (const auto& [k, val] : metadata) v.metadata.emplace_back(k, val);
  v.content_type = content_type;
  v.payload = payload;
  v.hash = hash;
  v.subject = subject;
  v.erased = erased;
  return v;
}

}  // namespace annals
