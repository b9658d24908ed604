// EventRegistry: lookups, encode/decode, JSON, schema evolution (compatible
// additions and upcaster chains).

#include "annals/event_registry.h"

#include <string>

#include "account_v1_generated.h"
#include "account_v2_generated.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/event_registry/account_events.h"

namespace test_domain {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EventRegistryTest, LooksUpByNameAndType) {
  const annals::EventRegistry& registry = AccountEvents();
  const annals::EventTypeInfo* by_name = registry.Find("Renamed");
  ASSERT_NE(by_name, nullptr);
  EXPECT_EQ(by_name, registry.Find<Renamed>());
  EXPECT_EQ(by_name->schema_version, 3u);
  EXPECT_EQ(by_name->table, "test_domain.Renamed");
  EXPECT_EQ(registry.Find("Nope"), nullptr);
  EXPECT_EQ(registry.Find<v1::Renamed>(), nullptr);
  EXPECT_EQ(registry.types().size(), 4u);
}

TEST(EventRegistryTest, RejectsDuplicatesAndBadRegistrations) {
  annals::EventRegistry registry;
  ASSERT_TRUE(registry.Register<Opened>("Opened").ok());
  EXPECT_EQ(registry.Register<Deposited>("Opened").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Register<Opened>("Opened2").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Register<Deposited>("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register<Deposited>("Deposited", 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddUpcaster("Opened", 1, RenamedV1ToV2).code(),
            absl::StatusCode::kInvalidArgument);  // Opened is at version 1
  EXPECT_EQ(registry.AddUpcaster("Nope", 1, RenamedV1ToV2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.AddSchema("table {").code(), absl::StatusCode::kInvalidArgument);
}

TEST(EventRegistryTest, EncodesDecodesAndRendersJson) {
  const annals::EventRegistry& registry = AccountEvents();
  DepositedT deposit;
  deposit.amount = 1250;
  deposit.memo = "rent \"May\"";
  auto bytes = registry.Encode<Deposited>(deposit);
  ASSERT_TRUE(bytes.ok());
  auto decoded = registry.Decode<Deposited>("Deposited", 1, *bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->amount, 1250);
  EXPECT_EQ(decoded->memo, "rent \"May\"");
  auto json = registry.ToJson("Deposited", 1, *bytes);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"amount":1250,"memo":"rent \"May\""})");
  // The wrong C++ type for a name is refused.
  EXPECT_FALSE(registry.Decode<Opened>("Deposited", 1, *bytes).ok());
}

TEST(EventRegistryTest, EventsOfTheOldSchemaDecodeWithTheNewCode) {
  // Deposited gained `memo` after version 1 of the schema: compatible, no
  // version bump, no upcaster. An event written by the old code...
  v1::DepositedT old;
  old.amount = 99;
  const std::string stored = Bytes(old);
  // ...is read by the new code with the new field at its default.
  auto decoded = AccountEvents().Decode<Deposited>("Deposited", 1, stored);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->amount, 99);
  EXPECT_EQ(decoded->memo, "");
  // AggregateTest.AppliesOldSchemaVersionsOfItsEvents replays it.
}

TEST(EventRegistryTest, UpcasterChainBringsV1AndV2ToV3) {
  const annals::EventRegistry& registry = AccountEvents();
  v1::RenamedT v1;
  v1.full_name = "Ada Lovelace";
  auto from_v1 = registry.Decode<Renamed>("Renamed", 1, Bytes(v1));
  ASSERT_TRUE(from_v1.ok()) << from_v1.status();
  EXPECT_THAT(from_v1->names, ElementsAre("Ada", "Lovelace"));
  EXPECT_EQ(from_v1->display_name, "Lovelace, Ada");

  v2::RenamedT v2;
  v2.first_name = "Grace";
  v2.last_name = "Hopper";
  auto from_v2 = registry.Decode<Renamed>("Renamed", 2, Bytes(v2));
  ASSERT_TRUE(from_v2.ok()) << from_v2.status();
  EXPECT_THAT(from_v2->names, ElementsAre("Grace", "Hopper"));
  EXPECT_EQ(from_v2->display_name, "Hopper, Grace");

  // JSON rendering of an old event shows it as the current version.
  auto json = registry.ToJson("Renamed", 1, Bytes(v1));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(R"("display_name":"Lovelace, Ada")"));
}

TEST(EventRegistryTest, MissingUpcasterStepAndNewerVersionsAreRefused) {
  annals::EventRegistry registry;
  ASSERT_TRUE(registry.Register<Renamed>("Renamed", 3).ok());
  ASSERT_TRUE(registry.AddUpcaster("Renamed", 2, RenamedV2ToV3).ok());
  EXPECT_EQ(registry.AddUpcaster("Renamed", 2, RenamedV2ToV3).code(),
            absl::StatusCode::kAlreadyExists);
  v1::RenamedT v1;
  v1.full_name = "Ada Lovelace";
  std::string scratch;
  auto missing = registry.Upcast("Renamed", 1, Bytes(v1), &scratch);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("from version 1 to 2"));

  RenamedT v3;
  v3.display_name = "x";
  auto newer = registry.Upcast("Renamed", 4, Bytes(v3), &scratch);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("upgrade"));
}

TEST(EventRegistryTest, FailingUpcasterAndGarbageAreDataLoss) {
  std::string scratch;
  auto garbage = AccountEvents().Upcast("Renamed", 2, "garbage!", &scratch);
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss);
  auto bad = AccountEvents().Upcast("Deposited", 1, std::string(3, '\0'), &scratch);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventRegistryTest, SchemaMayBeAddedAfterRegistration) {
  annals::EventRegistry registry;
  ASSERT_TRUE(registry.Register<Withdrawn>("Withdrawn").ok());
  WithdrawnT w;
  w.amount = 3;
  EXPECT_EQ(registry.ToJson("Withdrawn", 1, Bytes(w)).status().code(),
            absl::StatusCode::kFailedPrecondition);  // no schema yet
  ASSERT_TRUE(registry.AddSchema(kAccountSchema).ok());
  auto json = registry.ToJson("Withdrawn", 1, Bytes(w));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"amount":3})");
}

TEST(EventRegistryTest, RenderPayloadForTheCli) {
  const annals::EventRegistry& registry = AccountEvents();
  annals::RecordedEvent event;
  event.type = "Opened";
  event.content_type = annals::ContentType::kFlatBuffers;
  OpenedT opened;
  opened.owner = "zoë";
  event.payload = Bytes(opened);
  auto render = registry.PayloadRenderer();
  auto json = render(event);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(*json, R"({"owner":"zoë"})");
  event.content_type = annals::ContentType::kBytes;
  EXPECT_FALSE(render(event).has_value());
  event.content_type = annals::ContentType::kFlatBuffers;
  event.type = "Unknown";
  EXPECT_FALSE(render(event).has_value());
  event.type = "Opened";
  event.payload = "broken";
  EXPECT_FALSE(render(event).has_value());
}

}  // namespace
}  // namespace test_domain
