// Key and value encodings of the projection module; grammar in
// projections/internal/keys.h.

#include "projections/internal/keys.h"

#include "common/coding.h"
#include "common/strings.h"

namespace annals::projections_internal {
namespace {

void PutStr(std::string* out, std::string_view s) {
  coding::PutBigEndian32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetStr(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  const uint32_t n = coding::DecodeBigEndian32(*in);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  out->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

}  // namespace

absl::Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat(what, " name '", name, "' is invalid: use 1 to 128 bytes without NUL"));
  }
  return absl::OkStatus();
}

std::string GenerationPrefix(std::string_view name, uint32_t generation) {
  std::string out(name);
  out.push_back('\0');
  coding::PutBigEndian32(&out, generation);
  return out;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    const auto c = static_cast<uint8_t>(out.back());
    if (c != 0xff) {
      out.back() = static_cast<char>(c + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

std::string ActiveGenerationKey(std::string_view name) { return StrCat("A", name); }

std::string EncodeGeneration(uint32_t generation) { return coding::BigEndian32(generation); }

uint32_t DecodeGeneration(std::string_view in) { return coding::DecodeBigEndian32(in); }

std::string CheckpointKey(std::string_view name, uint32_t generation) {
  std::string out = StrCat("C", name);
  out.push_back('\0');
  coding::PutBigEndian32(&out, generation);
  return out;
}

std::string HealthKey(std::string_view name) { return StrCat("H", name); }

std::string ParkedPrefix(std::string_view name) {
  std::string out(name);
  out.push_back('\0');
  return out;
}

std::string ParkedKey(std::string_view name, uint64_t position) {
  std::string out = ParkedPrefix(name);
  coding::PutBigEndian64(&out, position);
  return out;
}

std::string EncodeHealth(const Health& h) {
  std::string out;
  out.push_back(static_cast<char>(h.state));
  out.push_back(static_cast<char>(h.mode));
  coding::PutBigEndian64(&out, static_cast<uint64_t>(h.heartbeat_us));
  coding::PutBigEndian64(&out, static_cast<uint64_t>(h.advanced_at_us));
  coding::PutBigEndian64(&out, static_cast<uint64_t>(h.stall_after_us));
  coding::PutBigEndian64(&out, static_cast<uint64_t>(h.heartbeat_every_us));
  out.append(h.error);
  return out;
}

bool DecodeHealth(std::string_view in, Health* h) {
  if (in.size() < 34 || static_cast<uint8_t>(in[0]) > 3 || static_cast<uint8_t>(in[1]) > 1) {
    return false;
  }
  h->state = static_cast<ProjectionState>(in[0]);
  h->mode = static_cast<ProjectionMode>(in[1]);
  h->heartbeat_us = static_cast<int64_t>(coding::DecodeBigEndian64(in.substr(2)));
  h->advanced_at_us = static_cast<int64_t>(coding::DecodeBigEndian64(in.substr(10)));
  h->stall_after_us = static_cast<int64_t>(coding::DecodeBigEndian64(in.substr(18)));
  h->heartbeat_every_us = static_cast<int64_t>(coding::DecodeBigEndian64(in.substr(26)));
  h->error.assign(in.substr(34));
  return true;
}

std::string EncodeParked(const ParkedEvent& p) {
  std::string out;
  coding::PutBigEndian32(&out, p.attempts);
  coding::PutBigEndian64(&out, static_cast<uint64_t>(p.parked_at_us));
  coding::PutBigEndian64(&out, p.version);
  PutStr(&out, p.stream);
  PutStr(&out, p.type);
  out.append(p.error);
  return out;
}

bool DecodeParked(std::string_view in, ParkedEvent* p) {
  if (in.size() < 20) return false;
  p->attempts = coding::DecodeBigEndian32(in);
  p->parked_at_us = static_cast<int64_t>(coding::DecodeBigEndian64(in.substr(4)));
  p->version = coding::DecodeBigEndian64(in.substr(12));
  in.remove_prefix(20);
  if (!GetStr(&in, &p->stream) || !GetStr(&in, &p->type)) return false;
  p->error.assign(in);
  return true;
}

}  // namespace annals::projections_internal
