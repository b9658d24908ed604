// Consumer code in the documented style, compiled as a consumer would with
// `-Wall -Wextra -Werror` and -Wmissing-field-initializers on (see
// tests/public_api/CMakeLists.txt): every public struct is built with
// designated initializers that name only some of its fields. GCC 12 warns
// for each omitted member that has no default member initializer (class
// types such as std::string included), so each struct is initialized twice,
// naming different fields, and every member is left out at least once.
// Clang 14 warns only for positional initializers that stop early; the
// positional forms below cover it. The test then checks that the members
// left out took the defaults the headers document.
//
// It includes public headers only (include/annals/), as a consumer does.

#include <memory>
#include <string>
#include <vector>

#include "annals/aggregate.h"
#include "annals/cli.h"
#include "annals/errors.h"
#include "annals/event.h"
#include "annals/event_registry.h"
#include "annals/event_store.h"
#include "annals/options.h"
#include "annals/projection.h"
#include "annals/read_model.h"
#include "annals/repository.h"
#include "annals/snapshot_store.h"
#include "annals/statistics.h"
#include "annals/subscription.h"
#include "gtest/gtest.h"

namespace {

TEST(PublicApiStyle, EventTypes) {
  const annals::NewEvent borrowed{.type = "OrderPlaced", .payload = R"({"table":4})"};
  const annals::NewEvent borrowed_id{.id = annals::Uuid::V7()};
  const annals::NewEvent borrowed_rest{.schema_version = 2,
                                       .content_type = annals::ContentType::kBytes,
                                       .correlation_id = "c",
                                       .causation_id = "d",
                                       .metadata = {},
                                       .recorded_at_us = 1};
  EXPECT_TRUE(borrowed.id.is_nil());
  EXPECT_EQ(borrowed.schema_version, 1u);
  EXPECT_EQ(borrowed.content_type, annals::ContentType::kJson);
  EXPECT_TRUE(borrowed.metadata.empty());
  EXPECT_EQ(borrowed.recorded_at_us, 0);
  EXPECT_TRUE(borrowed_id.type.empty());
  EXPECT_TRUE(borrowed_rest.payload.empty());

  const annals::EventData owned{.type = "OrderPlaced", .payload = std::to_string(4)};
  const annals::EventData owned_rest{.id = annals::Uuid::V7(),
                                     .schema_version = 2,
                                     .content_type = annals::ContentType::kBytes,
                                     .correlation_id = "c",
                                     .causation_id = "d",
                                     .metadata = {{"user", "ann"}},
                                     .recorded_at_us = 1};
  EXPECT_TRUE(owned.id.is_nil());
  EXPECT_EQ(owned.content_type, annals::ContentType::kJson);
  EXPECT_TRUE(owned.metadata.empty());
  EXPECT_TRUE(owned_rest.type.empty());
  EXPECT_TRUE(owned_rest.payload.empty());

  const annals::EventView view{.position = 1, .type = "X"};
  const annals::EventView view_rest{.stream = "s", .hash = "h"};
  EXPECT_EQ(view.version, 0u);
  EXPECT_TRUE(view_rest.payload.empty());
  const annals::RecordedEvent recorded{.position = 1, .type = "X"};
  const annals::RecordedEvent recorded_rest{.stream = "s", .hash = "h"};
  EXPECT_TRUE(recorded.stream.empty());
  EXPECT_TRUE(recorded_rest.type.empty());
  // Positional, as clang checks it.
  const annals::RecordedEvent positional{1, "s"};
  EXPECT_EQ(positional.version, 0u);
}

TEST(PublicApiStyle, EventStoreTypes) {
  const annals::AppendResult result{.first_version = 1};
  const annals::AppendResult result_rest{.idempotent_replay = true};
  EXPECT_EQ(result.recorded_at_us, 0);
  EXPECT_EQ(result_rest.first_version, 0u);
  const annals::AppendResult positional{1, 2};
  EXPECT_FALSE(positional.idempotent_replay);

  const std::vector<annals::NewEvent> events = {{.type = "X"}};
  const annals::StreamAppend part{.stream = "s", .events = events};
  const annals::StreamAppend part_rest{.expected = annals::ExpectedVersion::NoStream()};
  EXPECT_EQ(part.expected, annals::ExpectedVersion::Any());
  EXPECT_TRUE(part_rest.stream.empty());
  const annals::StreamAppendData owned_part{.stream = "s", .events = {{.type = "X"}}};
  const annals::StreamAppendData owned_rest{.expected = annals::ExpectedVersion::Exact(3)};
  EXPECT_EQ(owned_part.expected, annals::ExpectedVersion::Any());
  EXPECT_TRUE(owned_rest.events.empty());

  const annals::ReadStreamOptions stream{.from_version = 2};
  const annals::ReadStreamOptions stream_rest{
      .to_version = 3, .direction = annals::Direction::kBackward, .limit = 1};
  EXPECT_EQ(stream.direction, annals::Direction::kForward);
  EXPECT_EQ(stream_rest.from_version, 0u);

  const annals::ReadAllOptions all{.from_position = 1};
  const annals::ReadAllOptions all_rest{.to_position = 9,
                                        .direction = annals::Direction::kBackward,
                                        .limit = 10,
                                        .event_types = {"OrderPlaced"},
                                        .stream_prefix = "order-"};
  EXPECT_TRUE(all.event_types.empty());
  EXPECT_EQ(all.direction, annals::Direction::kForward);
  EXPECT_EQ(all_rest.from_position, 0u);

  const annals::StreamInfo info{.stream = "s"};
  const annals::StreamInfo info_rest{.version = 1, .last_position = 2};
  EXPECT_EQ(info.version, 0u);
  EXPECT_TRUE(info_rest.stream.empty());

  const annals::VerifyReport report{.ok = false, .first_bad_position = 3};
  const annals::VerifyReport report_rest{.last_hash = "h", .reason = "r"};
  EXPECT_TRUE(report.last_hash.empty());
  EXPECT_TRUE(report_rest.ok);
  const annals::StoreStats stats{.events = 1};
  EXPECT_EQ(stats.streams, 0u);

  annals::Options options{.durability = annals::Durability::kBuffered};
  const annals::Options options_rest{.log_sink = nullptr};
  EXPECT_TRUE(options.create_if_missing);
  EXPECT_EQ(options_rest.durability, annals::Durability::kSync);

  const annals::WrongExpectedVersion conflict{.stream = "s", .actual = 2};
  const annals::WrongExpectedVersion conflict_rest{.expected = annals::ExpectedVersion::Exact(1)};
  EXPECT_EQ(conflict.expected, annals::ExpectedVersion::Any());
  EXPECT_TRUE(conflict_rest.stream.empty());
}

TEST(PublicApiStyle, ModuleTypes) {
  const annals::AggregateSpec spec{.name = "order", .state_version = 2};
  const annals::AggregateSpec spec_rest{
      .registry = nullptr, .state_schema = "table S {}", .state_table = "S"};
  EXPECT_TRUE(spec.state_schema.empty());
  EXPECT_TRUE(spec_rest.name.empty());
  const annals::PendingEvent pending{.type = "X"};
  const annals::PendingEvent pending_rest{.id = annals::Uuid::V7(), .payload = "p"};
  EXPECT_TRUE(pending.payload.empty());
  EXPECT_TRUE(pending_rest.type.empty());
  const annals::EventTypeInfo type_info{.type = "X", .table = "T"};
  const annals::EventTypeInfo type_info_rest{.schema_version = 2};
  EXPECT_EQ(type_info.verify, nullptr);
  EXPECT_TRUE(type_info_rest.table.empty());

  const annals::CliAggregate aggregate{.name = "order"};
  const annals::CliAggregate aggregate_rest{.description = "d", .replay = nullptr};
  EXPECT_FALSE(aggregate.replay);
  EXPECT_TRUE(aggregate_rest.name.empty());
  const annals::CliOptions cli{.aggregates = {aggregate}};
  const annals::CliOptions cli_rest{.render_payload = nullptr, .projections = {}};
  EXPECT_TRUE(cli.projections.empty());
  EXPECT_TRUE(cli_rest.aggregates.empty());

  const annals::RetryOptions retry{.max_attempts = 3};
  EXPECT_DOUBLE_EQ(retry.multiplier, 2.0);
  const annals::ProjectionOptions projection{.mode = annals::ProjectionMode::kInline};
  const annals::ProjectionOptions projection_rest{.retry = {.max_attempts = 1}};
  EXPECT_EQ(projection.batch_events, 1000u);
  EXPECT_EQ(projection_rest.mode, annals::ProjectionMode::kAsync);
  const annals::ProjectionStatus status{.name = "p", .lag = 3};
  const annals::ProjectionStatus status_rest{.error = "e"};
  EXPECT_TRUE(status.error.empty());
  EXPECT_TRUE(status_rest.name.empty());
  const annals::ParkedEvent parked{.stream = "s", .error = "e"};
  const annals::ParkedEvent parked_rest{.type = "X"};
  EXPECT_TRUE(parked.type.empty());
  EXPECT_TRUE(parked_rest.stream.empty());

  const annals::SubscriptionOptions subscription{.from = 1};
  const annals::SubscriptionOptions subscription_rest{
      .stream = "s", .event_types = {"X"}, .stream_prefix = "p"};
  EXPECT_TRUE(subscription.stream.empty());
  EXPECT_EQ(subscription_rest.batch_size, 512u);

  const annals::RepositoryOptions repository{.snapshot_every = 100};
  EXPECT_EQ(repository.keep_snapshots, 2u);
  const annals::LoadOptions load{.to_version = 3};
  const annals::LoadOptions load_rest{.as_of_us = 5};
  EXPECT_FALSE(load.as_of_us.has_value());
  EXPECT_TRUE(load_rest.use_snapshots);
  const annals::LoadInfo load_info{.events_replayed = 2};
  EXPECT_EQ(load_info.snapshot_version, 0u);
  const annals::RepositoryStats repository_stats{.loads = 1};
  EXPECT_EQ(repository_stats.saves, 0u);

  const annals::Snapshot snapshot{.stream = "s", .state = "x"};
  const annals::Snapshot snapshot_rest{.fingerprint = "f"};
  EXPECT_TRUE(snapshot.fingerprint.empty());
  EXPECT_TRUE(snapshot_rest.stream.empty());
  const annals::SnapshotQuery query{.max_version = 3};
  const annals::SnapshotQuery query_rest{.fingerprint = "f"};
  EXPECT_TRUE(query.fingerprint.empty());
  EXPECT_GT(query_rest.max_version, 3u);
}

TEST(PublicApiStyle, StatisticsTypes) {
  const annals::StatisticsInfo info{.name = "appends"};
  EXPECT_TRUE(info.help.empty());
  const annals::HistogramData data{.count = 1};
  EXPECT_TRUE(data.bucket_counts.empty());
  const annals::TickerIncrement tick{.count = 2};
  const annals::HistogramValue value{.value = 3};
  EXPECT_EQ(static_cast<int>(tick.ticker), 0);
  EXPECT_EQ(static_cast<int>(value.histogram), 0);
}

}  // namespace
