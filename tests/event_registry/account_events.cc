#include "tests/event_registry/account_events.h"

#include <cstdlib>

#include "account_v1_generated.h"
#include "account_v2_generated.h"

namespace test_domain {

absl::StatusOr<std::string> RenamedV1ToV2(std::string_view payload) {
  // An upcaster reads with the old generated code (kept alive for this) and
  // writes the next version.
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  if (!verifier.VerifyBuffer<v1::Renamed>(nullptr)) {
    return absl::DataLossError("not a version-1 Renamed");
  }
  v1::RenamedT in;
  flatbuffers::GetRoot<v1::Renamed>(payload.data())->UnPackTo(&in);
  const size_t space = in.full_name.find(' ');
  v2::RenamedT out;
  out.first_name = in.full_name.substr(0, space);
  out.last_name = space == std::string::npos ? "" : in.full_name.substr(space + 1);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(v2::Renamed::Pack(fbb, &out));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

absl::StatusOr<std::string> RenamedV2ToV3(std::string_view payload) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  if (!verifier.VerifyBuffer<v2::Renamed>(nullptr)) {
    return absl::DataLossError("not a version-2 Renamed");
  }
  v2::RenamedT in;
  flatbuffers::GetRoot<v2::Renamed>(payload.data())->UnPackTo(&in);
  RenamedT out;
  out.names = {in.first_name, in.last_name};
  out.display_name = in.last_name.empty() ? in.first_name : in.last_name + ", " + in.first_name;
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(Renamed::Pack(fbb, &out));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

const annals::EventRegistry& AccountEvents() {
  static const annals::EventRegistry* registry = [] {
    auto* r = new annals::EventRegistry();
    bool ok = r->AddSchema(kAccountSchema).ok();
    ok = ok && r->Register<Opened>("Opened").ok();
    ok = ok && r->Register<Deposited>("Deposited").ok();
    ok = ok && r->Register<Withdrawn>("Withdrawn").ok();
    ok = ok && r->Register<Renamed>("Renamed", 3).ok();
    ok = ok && r->AddUpcaster("Renamed", 1, RenamedV1ToV2).ok();
    ok = ok && r->AddUpcaster("Renamed", 2, RenamedV2ToV3).ok();
    if (!ok) std::abort();
    return r;
  }();
  return *registry;
}

}  // namespace test_domain
