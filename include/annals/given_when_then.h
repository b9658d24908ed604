// File: annals/given_when_then.h
//
// GivenWhenThen<A>: a test fixture for aggregates (GoogleTest). Given the
// events already in a stream, when a command runs, then exactly these events
// are raised, or nothing, or this error:
//
//   annals::GivenWhenThen<cafe::Order> order("order-1");
//   EXPECT_TRUE(order.Given(placed, item_added)
//                    .When([](cafe::Order& o) { return o.Pay(Card, 380, 0, "r1"); })
//                    .ThenEvents(paid));
//   EXPECT_TRUE(order.When(...).ThenError(absl::StatusCode::kFailedPrecondition, "paid"));
//
// Events are object-API structs (cafe::OrderPaidT). They are compared by
// type name and by their JSON rendering (EventRegistry::ToJson), so a failure
// prints both sides readably. Given events go through the same path as stored
// events (encode, ApplyStored at the next version). A rejected command must
// raise nothing: ThenError() fails when it did.
//
// Include only from test code: it depends on GoogleTest.
// Thread-safety: none; one fixture per test.

#ifndef ANNALS_GIVEN_WHEN_THEN_H_
#define ANNALS_GIVEN_WHEN_THEN_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "annals/event_registry.h"
#include "annals/user_code.h"
#include "gtest/gtest.h"

namespace annals {

template <typename A>
class GivenWhenThen {
 public:
  explicit GivenWhenThen(std::string id = "test-1") : aggregate_(std::move(id)) {}

  // GivenWhenThen::Given()
  //
  // Applies events as if they had been stored, at the next versions.
  template <typename... Natives>
  GivenWhenThen& Given(const Natives&... events) {
    (GivenOne(events), ...);
    return *this;
  }

  // GivenWhenThen::When()
  //
  // Runs `command` on the aggregate built from the given events. Events a
  // previous When() raised count as given. A command that throws is treated
  // as Repository::Execute() treats it (annals/user_code.h): status() is
  // kInternal with the exception's message, so ThenError(kInternal, "...")
  // can assert it and ThenEvents() fails showing it.
  GivenWhenThen& When(const std::function<absl::Status(A&)>& command) {
    aggregate_.TakePendingEvents();
    status_ =
        user_code_internal::CallUserCode("the When() command", [&] { return command(aggregate_); });
    ran_ = true;
    return *this;
  }

  // GivenWhenThen::ThenEvents()
  //
  // The command succeeded and raised exactly these events, in this order.
  template <typename... Natives>
  ::testing::AssertionResult ThenEvents(const Natives&... expected) {
    if (auto failed = Precheck(); !failed) return failed;
    if (!status_.ok()) {
      return ::testing::AssertionFailure()
             << "expected events, but the command failed: " << status_.ToString();
    }
    std::vector<std::string> want;
    (want.push_back(Describe(expected)), ...);
    std::vector<std::string> got = Raised();
    if (want == got) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected events:\n"
                                         << Join(want) << "raised events:\n"
                                         << Join(got);
  }

  // GivenWhenThen::ThenNothing()
  //
  // The command succeeded and raised no event.
  ::testing::AssertionResult ThenNothing() { return ThenEvents(); }

  // GivenWhenThen::ThenError()
  //
  // The command failed with `code` (and a message containing `substring`)
  // and raised nothing.
  ::testing::AssertionResult ThenError(absl::StatusCode code, std::string_view substring = {}) {
    if (auto failed = Precheck(); !failed) return failed;
    if (status_.code() != code) {
      return ::testing::AssertionFailure() << "expected error " << absl::StatusCodeToString(code)
                                           << ", got " << status_.ToString() << " and events:\n"
                                           << Join(Raised());
    }
    if (!substring.empty() && std::string(status_.message()).find(substring) == std::string::npos) {
      return ::testing::AssertionFailure() << "error message \"" << status_.message()
                                           << "\" does not contain \"" << substring << "\"";
    }
    if (!aggregate_.pending_events().empty()) {
      return ::testing::AssertionFailure() << "a rejected command must raise nothing, but it "
                                              "raised:\n"
                                           << Join(Raised());
    }
    return ::testing::AssertionSuccess();
  }

  // The aggregate after Given/When, e.g. to check its state.
  const A& aggregate() const { return aggregate_; }
  const absl::Status& status() const { return status_; }

 private:
  template <typename Native>
  void GivenOne(const Native& event) {
    using E = typename Native::TableType;
    if (!setup_.ok()) return;
    const EventRegistry& registry = *A::Spec().registry;
    const EventTypeInfo* info = registry.template Find<E>();
    if (info == nullptr) {
      setup_ = absl::FailedPreconditionError("Given(): event table is not registered");
      return;
    }
    absl::StatusOr<std::string> bytes = registry.template Encode<E>(event);
    if (!bytes.ok()) {
      setup_ = bytes.status();
      return;
    }
    setup_ =
        aggregate_.ApplyStored(aggregate_.version() + 1, info->type, info->schema_version, *bytes);
  }

  template <typename Native>
  std::string Describe(const Native& event) const {
    using E = typename Native::TableType;
    const EventRegistry& registry = *A::Spec().registry;
    const EventTypeInfo* info = registry.template Find<E>();
    if (info == nullptr) return "<unregistered event table>";
    absl::StatusOr<std::string> bytes = registry.template Encode<E>(event);
    if (!bytes.ok()) return "<" + std::string(bytes.status().message()) + ">";
    return Render(info->type, info->schema_version, *bytes);
  }

  std::string Render(std::string_view type, uint32_t version, std::string_view bytes) const {
    absl::StatusOr<std::string> json = A::Spec().registry->ToJson(type, version, bytes);
    return std::string(type) + " " +
           (json.ok() ? *json : "<" + std::string(json.status().message()) + ">");
  }

  std::vector<std::string> Raised() const {
    std::vector<std::string> out;
    for (const PendingEvent& e : aggregate_.pending_events()) {
      out.push_back(Render(e.type, e.schema_version, e.payload));
    }
    return out;
  }

  static std::string Join(const std::vector<std::string>& lines) {
    if (lines.empty()) return "  (none)\n";
    std::string out;
    for (const std::string& line : lines) out += "  " + line + "\n";
    return out;
  }

  ::testing::AssertionResult Precheck() const {
    if (!setup_.ok()) {
      return ::testing::AssertionFailure() << "Given() failed: " << setup_.ToString();
    }
    if (!ran_) return ::testing::AssertionFailure() << "Then...() before When()";
    return ::testing::AssertionSuccess();
  }

  A aggregate_;
  absl::Status setup_;
  absl::Status status_;
  bool ran_ = false;
};

}  // namespace annals

#endif  // ANNALS_GIVEN_WHEN_THEN_H_
