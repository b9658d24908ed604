// The process-wide table of declared column families (column_family.h).

#include "eventstore/internal/column_family.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/strings.h"
#include "eventstore/internal/keys.h"

namespace annals::internal {
namespace {

constexpr size_t kMaxFamilyNameBytes = 64;

// Declared families by name. A function-local static, so that declarations
// made during static initialization (ColumnFamilyDeclaration) find it built
// whatever the order of initialization across files. Never destroyed: a
// declaration may run in a static destructor's lifetime too.
struct Declared {
  Mutex mu;
  absl::flat_hash_map<std::string, ColumnFamilyTuning> tunings ABSL_GUARDED_BY(mu);
};

Declared& Table() {
  static auto* table = new Declared();
  return *table;
}

std::string Describe(const ColumnFamilyTuning& t) {
  return StrCat("block_size ", t.block_size, ", bloom_bits_per_key ", t.bloom_bits_per_key,
                ", memtable_bloom ", t.memtable_bloom ? "true" : "false", ", target_file_bytes ",
                t.target_file_bytes);
}

}  // namespace

absl::Status ValidateFamilyName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxFamilyNameBytes;
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    return absl::InvalidArgumentError(StrCat("invalid column family name '", name,
                                             "': use 1 to 64 characters of a-z, 0-9 and '_'"));
  }
  if (IsCoreFamily(name)) {
    return absl::InvalidArgumentError(
        StrCat("column family '", name,
               "' belongs to the event store; give the module's family another "
               "name"));
  }
  return absl::OkStatus();
}

namespace {

absl::Status Clash(const ColumnFamilySpec& spec, const ColumnFamilyTuning& declared) {
  return absl::InvalidArgumentError(StrCat("column family '", spec.name,
                                           "' is declared twice with different tuning (",
                                           Describe(declared), " vs. ", Describe(spec.tuning),
                                           "); one module owns a family and declares it once"));
}

}  // namespace

absl::Status DeclareColumnFamily(const ColumnFamilySpec& spec) {
  if (absl::Status s = ValidateFamilyName(spec.name); !s.ok()) return s;
  Declared& table = Table();
  MutexLock lock(&table.mu);
  auto [it, inserted] = table.tunings.try_emplace(std::string(spec.name), spec.tuning);
  if (!inserted && !(it->second == spec.tuning)) return Clash(spec, it->second);
  return absl::OkStatus();
}

absl::Status CheckColumnFamily(const ColumnFamilySpec& spec) {
  if (absl::Status s = ValidateFamilyName(spec.name); !s.ok()) return s;
  Declared& table = Table();
  MutexLock lock(&table.mu);
  auto it = table.tunings.find(std::string(spec.name));
  if (it != table.tunings.end() && !(it->second == spec.tuning)) return Clash(spec, it->second);
  return absl::OkStatus();
}

std::vector<std::pair<std::string, ColumnFamilyTuning>> DeclaredFamilies() {
  Declared& table = Table();
  MutexLock lock(&table.mu);
  std::vector<std::pair<std::string, ColumnFamilyTuning>> out(table.tunings.begin(),
                                                              table.tunings.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

ColumnFamilyTuning TuningOf(std::string_view name) {
  Declared& table = Table();
  MutexLock lock(&table.mu);
  auto it = table.tunings.find(std::string(name));
  return it != table.tunings.end() ? it->second : ColumnFamilyTuning();
}

ColumnFamilyDeclaration::ColumnFamilyDeclaration(const ColumnFamilySpec& spec) {
  // StoreAccess::Family() checks the same spec and reports the error.
  DeclareColumnFamily(spec).IgnoreError();
}

}  // namespace annals::internal
