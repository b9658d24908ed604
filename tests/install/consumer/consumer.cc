// A program outside annals, built against it the ways a user would
// (tests/install/install_test.sh): it opens a store in a fresh temporary
// directory, appends a JSON event and a FlatBuffers event of its own schema
// (greeting.fbs), reads them back and checks them. Exit 0 and "consumer ok"
// when everything matches.
//
// It also checks that only annals' public headers are visible: the
// repository root (internal headers) and annals' build directory (generated
// schema headers) must not be on a consumer's include path.

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "annals/version.h"
#include "greeting_generated.h"

#if __has_include("common/strings.h") || __has_include("eventstore/internal/keys.h")
#error "annals' repository root (internal headers) is on the consumer's include path"
#endif
#if __has_include("record_generated.h")
#error "annals' build directory (generated schema headers) is on the consumer's include path"
#endif

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "consumer: %s\n", what.c_str());
  return 1;
}

int Run(const std::string& dir) {
  auto store = annals::EventStore::Open(dir + "/store");
  if (!store.ok()) return Fail("open: " + store.status().ToString());
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(consumer::CreateGreeted(builder, builder.CreateString("hello")));
  const std::string greeting(reinterpret_cast<const char*>(builder.GetBufferPointer()),
                             builder.GetSize());
  const std::vector<annals::NewEvent> events = {
      {.type = "OrderPlaced", .payload = R"({"table":4})"},
      {.type = "Greeted", .content_type = annals::ContentType::kFlatBuffers, .payload = greeting}};
  auto appended = (*store)->Append("order-1", annals::ExpectedVersion::NoStream(), events);
  if (!appended.ok()) return Fail("append: " + appended.status().ToString());
  auto read = (*store)->ReadStream("order-1");
  if (!read.ok()) return Fail("read: " + read.status().ToString());
  if (read->size() != events.size()) return Fail("read back " + std::to_string(read->size()));
  for (size_t i = 0; i < events.size(); ++i) {
    const annals::RecordedEvent& e = (*read)[i];
    if (e.version != i + 1 || e.type != events[i].type || e.payload != events[i].payload) {
      return Fail("event " + std::to_string(i + 1) + " differs: " + e.type + " " + e.payload);
    }
  }
  const std::string& stored = (*read)[1].payload;
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(stored.data()), stored.size());
  if (!consumer::VerifyGreetedBuffer(verifier) ||
      consumer::GetGreeted(stored.data())->text()->str() != "hello") {
    return Fail("the FlatBuffers event does not decode");
  }
  auto report = (*store)->Verify();
  if (!report.ok()) return Fail("verify: " + report.status().ToString());
  if (!report->ok || report->events != events.size()) return Fail("verify: " + report->reason);
  std::printf("consumer ok (annals %s)\n", annals::kVersion);
  return 0;
}

}  // namespace

int main() {
  std::string dir = (std::filesystem::temp_directory_path() / "annals-consumer-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return Fail("mkdtemp failed");
  const int code = Run(dir);
  std::filesystem::remove_all(dir);
  return code;
}
