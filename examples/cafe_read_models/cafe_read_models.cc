// The café read models: decoding café events (FlatBuffers, through the café
// event registry) into the board and sales tables.

#include "examples/cafe_read_models/cafe_read_models.h"

#include "absl/time/time.h"
#include "cafe_events_generated.h"
#include "examples/cafe/cafe_registry.h"
#include "nlohmann/json.hpp"

namespace cafe {
namespace {

using annals::EventView;
using annals::ReadModelWriter;
using Json = nlohmann::json;

const annals::SecondaryIndex& ByStatus() {
  static const auto* index = new annals::SecondaryIndex("by_status");
  return *index;
}
const annals::SecondaryIndex& ByTable() {
  static const auto* index = new annals::SecondaryIndex("by_table");
  return *index;
}

template <typename E>
absl::StatusOr<typename E::NativeTableType> Decode(const EventView& e) {
  return CafeEvents().Decode<E>(e.type, e.schema_version, e.payload);
}

// Table numbers in index keys: fixed width, so they sort numerically.
std::string TableKey(int table) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d", table);
  return buf;
}

std::string Day(int64_t recorded_at_us) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(recorded_at_us), absl::UTCTimeZone());
}

absl::StatusOr<std::optional<Json>> GetJson(const annals::ReadModelReader& r,
                                            std::string_view table, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = r.Get(table, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<Json>();
  Json j = Json::parse(**v, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::DataLossError(std::string("malformed JSON in read-model table ") +
                               std::string(table));
  }
  return std::optional<Json>(std::move(j));
}

BoardEntry ToEntry(std::string_view stream, const Json& j) {
  BoardEntry b;
  b.stream = std::string(stream);
  b.order_id = j.value("order_id", "");
  b.table = j.value("table", 0);
  b.customer = j.value("customer", "");
  b.status = j.value("status", "");
  b.items = j.value("items", int64_t{0});
  b.total_cents = j.value("total_cents", int64_t{0});
  return b;
}

// Moves an order to `status` on the board, keeping the index in step.
absl::Status SetStatus(ReadModelWriter& w, std::string_view stream, Json& entry,
                       const std::string& status) {
  const std::string old = entry.value("status", "");
  entry["status"] = status;
  if (absl::Status s = ByStatus().Update(w, stream, old, status); !s.ok()) return s;
  return w.Put("board", stream, entry.dump());
}

}  // namespace

std::vector<std::string> OrderBoardProjection::event_types() const {
  return {"OrderPlaced",   "ItemAdded",   "OrderPaid",
          "OrderPrepared", "OrderServed", "OrderCancelled"};
}

absl::Status OrderBoardProjection::Apply(const EventView& e, ReadModelWriter& w) {
  const std::string_view stream = e.stream;
  if (e.type == "OrderPlaced") {
    absl::StatusOr<OrderPlacedT> placed = Decode<OrderPlaced>(e);
    if (!placed.ok()) return placed.status();
    Json entry = {{"order_id", placed->order_id},
                  {"table", placed->table_number},
                  {"customer", placed->customer},
                  {"status", "open"},
                  {"items", 0},
                  {"total_cents", 0}};
    if (absl::Status s = ByStatus().Update(w, stream, std::nullopt, "open"); !s.ok()) return s;
    if (absl::Status s = ByTable().Update(w, stream, std::nullopt, TableKey(placed->table_number));
        !s.ok()) {
      return s;
    }
    return w.Put("board", stream, entry.dump());
  }
  absl::StatusOr<std::optional<Json>> entry = GetJson(w, "board", stream);
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return absl::OkStatus();  // Not on the board (any more).
  Json& j = **entry;
  if (e.type == "ItemAdded") {
    absl::StatusOr<ItemAddedT> item = Decode<ItemAdded>(e);
    if (!item.ok()) return item.status();
    j["items"] = j.value("items", int64_t{0}) + item->quantity;
    j["total_cents"] =
        j.value("total_cents", int64_t{0}) + int64_t{item->quantity} * item->unit_price_cents;
    return w.Put("board", stream, j.dump());
  }
  if (e.type == "OrderPaid") return SetStatus(w, stream, j, "paid");
  if (e.type == "OrderPrepared") return SetStatus(w, stream, j, "prepared");
  // OrderServed, OrderCancelled: off the board.
  if (absl::Status s = ByStatus().Update(w, stream, j.value("status", ""), std::nullopt); !s.ok()) {
    return s;
  }
  if (absl::Status s = ByTable().Update(w, stream, TableKey(j.value("table", 0)), std::nullopt);
      !s.ok()) {
    return s;
  }
  return w.Delete("board", stream);
}

std::vector<std::string> SalesProjection::event_types() const {
  return {"ItemAdded", "OrderPaid", "PaymentRefunded", "OrderServed", "OrderCancelled"};
}

namespace {

std::string LineKey(std::string_view stream, std::string_view sku) {
  std::string key(stream);
  key.push_back('\0');
  key.append(sku);
  return key;
}

struct Line {
  std::string sku;
  int64_t quantity;
  int64_t unit_price_cents;
};

absl::StatusOr<std::vector<Line>> Lines(ReadModelWriter& w, std::string_view stream) {
  std::vector<Line> lines;
  bool bad = false;
  const std::string prefix = LineKey(stream, "");
  absl::Status s = w.Scan("lines", prefix, [&](std::string_view key, std::string_view value) {
    Json j = Json::parse(value, nullptr, false);
    if (j.is_discarded()) {
      bad = true;
      return false;
    }
    lines.push_back({std::string(key.substr(prefix.size())), j.value("quantity", int64_t{0}),
                     j.value("unit_price_cents", int64_t{0})});
    return true;
  });
  if (!s.ok()) return s;
  if (bad) return absl::DataLossError("malformed order line in cafe_sales");
  return lines;
}

absl::Status AddSales(ReadModelWriter& w, const std::string& day, const std::vector<Line>& lines,
                      int sign) {
  for (const Line& line : lines) {
    const std::string key = day + "/" + line.sku;
    absl::StatusOr<std::optional<Json>> current = GetJson(w, "sales", key);
    if (!current.ok()) return current.status();
    Json j = current->value_or(Json{{"quantity", 0}, {"revenue_cents", 0}});
    j["quantity"] = j.value("quantity", int64_t{0}) + sign * line.quantity;
    j["revenue_cents"] =
        j.value("revenue_cents", int64_t{0}) + sign * line.quantity * line.unit_price_cents;
    if (absl::Status s = w.Put("sales", key, j.dump()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Forget(ReadModelWriter& w, std::string_view stream, const std::vector<Line>& lines) {
  for (const Line& line : lines) {
    if (absl::Status s = w.Delete("lines", LineKey(stream, line.sku)); !s.ok()) return s;
  }
  return w.Delete("paid_day", stream);
}

}  // namespace

absl::Status SalesProjection::Apply(const EventView& e, ReadModelWriter& w) {
  const std::string_view stream = e.stream;
  if (e.type == "ItemAdded") {
    absl::StatusOr<ItemAddedT> item = Decode<ItemAdded>(e);
    if (!item.ok()) return item.status();
    const std::string key = LineKey(stream, item->sku);
    absl::StatusOr<std::optional<Json>> current = GetJson(w, "lines", key);
    if (!current.ok()) return current.status();
    Json j = current->value_or(Json{{"quantity", 0}, {"unit_price_cents", item->unit_price_cents}});
    j["quantity"] = j.value("quantity", int64_t{0}) + item->quantity;
    return w.Put("lines", key, j.dump());
  }
  absl::StatusOr<std::vector<Line>> lines = Lines(w, stream);
  if (!lines.ok()) return lines.status();
  absl::StatusOr<std::optional<std::string>> paid_day = w.Get("paid_day", stream);
  if (!paid_day.ok()) return paid_day.status();
  if (e.type == "OrderPaid") {
    const std::string day = Day(e.recorded_at_us);
    if (absl::Status s = AddSales(w, day, *lines, +1); !s.ok()) return s;
    return w.Put("paid_day", stream, day);
  }
  if (e.type == "PaymentRefunded") {
    if (paid_day->has_value()) {
      if (absl::Status s = AddSales(w, **paid_day, *lines, -1); !s.ok()) return s;
    }
    return Forget(w, stream, *lines);
  }
  if (e.type == "OrderServed") return Forget(w, stream, *lines);
  // OrderCancelled: a paid order keeps its lines until PaymentRefunded.
  if (!paid_day->has_value()) return Forget(w, stream, *lines);
  return absl::OkStatus();
}

std::vector<std::shared_ptr<annals::Projection>> CafeProjections() {
  return {std::make_shared<OrderBoardProjection>(), std::make_shared<SalesProjection>()};
}

absl::StatusOr<std::vector<BoardEntry>> OpenOrders(const annals::ReadModelReader& board,
                                                   std::string_view status) {
  std::vector<BoardEntry> out;
  if (status.empty()) {
    bool bad = false;
    absl::Status s = board.Scan("board", "", [&](std::string_view key, std::string_view value) {
      Json j = Json::parse(value, nullptr, false);
      if (j.is_discarded()) {
        bad = true;
        return false;
      }
      out.push_back(ToEntry(key, j));
      return true;
    });
    if (!s.ok()) return s;
    if (bad) return absl::DataLossError("malformed board entry");
    return out;
  }
  std::vector<std::string> streams;
  absl::Status s = ByStatus().Lookup(board, status, [&](std::string_view stream) {
    streams.emplace_back(stream);
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& stream : streams) {
    absl::StatusOr<std::optional<Json>> j = GetJson(board, "board", stream);
    if (!j.ok()) return j.status();
    if (j->has_value()) out.push_back(ToEntry(stream, **j));
  }
  return out;
}

absl::StatusOr<std::vector<BoardEntry>> OrdersAtTable(const annals::ReadModelReader& board,
                                                      int table) {
  std::vector<std::string> streams;
  absl::Status s = ByTable().Lookup(board, TableKey(table), [&](std::string_view stream) {
    streams.emplace_back(stream);
    return true;
  });
  if (!s.ok()) return s;
  std::vector<BoardEntry> out;
  for (const std::string& stream : streams) {
    absl::StatusOr<std::optional<Json>> j = GetJson(board, "board", stream);
    if (!j.ok()) return j.status();
    if (j->has_value()) out.push_back(ToEntry(stream, **j));
  }
  return out;
}

absl::StatusOr<std::vector<ItemSales>> Sales(const annals::ReadModelReader& sales,
                                             std::string_view day) {
  std::vector<ItemSales> out;
  bool bad = false;
  const std::string prefix = day.empty() ? std::string() : std::string(day) + "/";
  absl::Status s = sales.Scan("sales", prefix, [&](std::string_view key, std::string_view value) {
    Json j = Json::parse(value, nullptr, false);
    const size_t slash = key.find('/');
    if (j.is_discarded() || slash == std::string_view::npos) {
      bad = true;
      return false;
    }
    out.push_back({std::string(key.substr(0, slash)), std::string(key.substr(slash + 1)),
                   j.value("quantity", int64_t{0}), j.value("revenue_cents", int64_t{0})});
    return true;
  });
  if (!s.ok()) return s;
  if (bad) return absl::DataLossError("malformed sales entry");
  return out;
}

}  // namespace cafe
