#include "tests/common/bit_flip_layout.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"

namespace annals::testing {
namespace {

// table/format.h (RocksDB 7.8).
constexpr uint64_t kFooterSize = 53;  // 1 + 2 * 20 + 4 + 8
constexpr uint64_t kFooterPart2Size = 40;
constexpr uint64_t kBlockTrailerSize = 5;
constexpr uint64_t kBlockBasedTableMagic = 0x88e241b785f4cff7ull;
// db/log_format.h.
constexpr uint64_t kLogBlockSize = 32768;
constexpr uint64_t kLogHeaderSize = 7;
constexpr uint64_t kRecyclableLogHeaderSize = 11;

struct Handle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint64_t v64 = 0;
  if (!GetVarint64(in, &v64) || v64 > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(v64);
  return true;
}

bool GetHandle(std::string_view* in, Handle* h) {
  return GetVarint64(in, &h->offset) && GetVarint64(in, &h->size);
}

uint32_t Fixed32(std::string_view in) {
  uint32_t v;
  std::memcpy(&v, in.data(), 4);  // RocksDB's fixed ints are little-endian, as is x86.
  return v;
}

uint64_t Fixed64(std::string_view in) {
  uint64_t v;
  std::memcpy(&v, in.data(), 8);
  return v;
}

bool InFile(std::string_view file, const Handle& h) {
  return h.offset <= file.size() && h.size <= file.size() - h.offset &&
         kBlockTrailerSize <= file.size() - h.offset - h.size;
}

// The uncompressed contents of the block at `h` (format_version >= 2:
// compressed blocks start with the varint32 uncompressed size).
bool BlockContents(std::string_view file, const Handle& h, std::string* out, std::string* error) {
  if (!InFile(file, h)) {
    *error = StrCat("block handle ", h.offset, "+", h.size, " is outside the file");
    return false;
  }
  std::string_view raw = file.substr(h.offset, h.size);
  const int type = static_cast<uint8_t>(file[h.offset + h.size]);
  if (type == 0) {
    out->assign(raw);
    return true;
  }
  uint32_t size = 0;
  if (!GetVarint32(&raw, &size)) {
    *error = "compressed block without a size prefix";
    return false;
  }
  out->resize(size);
  if (type == 4 || type == 5) {  // LZ4, LZ4HC
    const int n = LZ4_decompress_safe(raw.data(), out->data(), static_cast<int>(raw.size()),
                                      static_cast<int>(size));
    if (n != static_cast<int>(size)) {
      *error = "LZ4 block does not decompress";
      return false;
    }
    return true;
  }
  if (type == 7) {  // ZSTD
    const size_t n = ZSTD_decompress(out->data(), size, raw.data(), raw.size());
    if (ZSTD_isError(n) || n != size) {
      *error = "ZSTD block does not decompress";
      return false;
    }
    return true;
  }
  *error = StrCat("block compressed with type ", type, ", which this parser cannot read");
  return false;
}

// Visits the (key, value) entries of a block (table/block_based/block.cc).
// With `delta_values` (index blocks since format_version 4) an entry has no
// value length: a restart entry (shared == 0) holds a full BlockHandle, any
// other a signed size delta; `visit` gets the raw rest of the block and
// reports how much of it the value took.
template <typename Visit>
bool ForEachEntry(std::string_view block, bool delta_values, Visit visit, std::string* error) {
  if (block.size() < 4) {
    *error = "block shorter than its restart count";
    return false;
  }
  const uint32_t restarts = Fixed32(block.substr(block.size() - 4)) & 0x7fffffffu;
  if (static_cast<uint64_t>(restarts) * 4 + 4 > block.size()) {
    *error = "restart array larger than the block";
    return false;
  }
  std::string_view in = block.substr(0, block.size() - 4 - 4 * static_cast<uint64_t>(restarts));
  std::string key;
  while (!in.empty()) {
    uint32_t shared = 0, non_shared = 0, value_size = 0;
    if (!GetVarint32(&in, &shared) || !GetVarint32(&in, &non_shared) ||
        (!delta_values && !GetVarint32(&in, &value_size)) || shared > key.size() ||
        non_shared > in.size()) {
      *error = "malformed block entry";
      return false;
    }
    key.resize(shared);
    key.append(in.substr(0, non_shared));
    in.remove_prefix(non_shared);
    if (delta_values) {
      size_t used = 0;
      if (!visit(key, shared, in, &used)) {
        *error = "malformed index value";
        return false;
      }
      in.remove_prefix(used);
    } else {
      if (value_size > in.size()) {
        *error = "block entry value past the entries";
        return false;
      }
      size_t used = 0;
      if (!visit(key, shared, in.substr(0, value_size), &used)) {
        *error = "malformed block entry value";
        return false;
      }
      in.remove_prefix(value_size);
    }
  }
  return true;
}

std::string MetaKind(std::string_view name) {
  if (name == "rocksdb.properties") return "properties";
  if (name.starts_with("fullfilter.") || name.starts_with("filter.") ||
      name.starts_with("partitionedfilter.")) {
    return "filter";
  }
  return StrCat("meta:", name);
}

std::string_view LogRecordType(int type) {
  switch (type) {
    case 1:
    case 5:
      return "FULL";
    case 2:
    case 6:
      return "FIRST";
    case 3:
    case 7:
      return "MIDDLE";
    case 4:
    case 8:
      return "LAST";
    default:
      return "unknown";
  }
}

}  // namespace

StoreFileKind ClassifyStoreFile(std::string_view name) {
  if (name == "CURRENT") return StoreFileKind::kCurrent;
  if (name == "IDENTITY") return StoreFileKind::kIdentity;
  if (name.starts_with("MANIFEST-")) return StoreFileKind::kManifest;
  if (name.starts_with("OPTIONS-") && !name.ends_with(".dbtmp")) return StoreFileKind::kOptions;
  if (name.ends_with(".sst")) return StoreFileKind::kSst;
  if (name.ends_with(".log") && name != "LOG") return StoreFileKind::kWal;
  return StoreFileKind::kOther;
}

std::string_view StoreFileKindName(StoreFileKind kind) {
  switch (kind) {
    case StoreFileKind::kSst:
      return "sst";
    case StoreFileKind::kWal:
      return "wal";
    case StoreFileKind::kManifest:
      return "manifest";
    case StoreFileKind::kCurrent:
      return "current";
    case StoreFileKind::kOptions:
      return "options";
    case StoreFileKind::kIdentity:
      return "identity";
    case StoreFileKind::kOther:
      return "other";
  }
  return "other";
}

bool ParseSst(std::string_view file, SstLayout* layout, std::string* error) {
  *layout = SstLayout();
  if (file.size() < kFooterSize) {
    *error = "file shorter than a footer";
    return false;
  }
  const uint64_t footer_offset = file.size() - kFooterSize;
  const std::string_view footer = file.substr(footer_offset);
  if (Fixed64(footer.substr(kFooterSize - 8)) != kBlockBasedTableMagic) {
    *error = "no block-based table magic number";
    return false;
  }
  layout->format_version = Fixed32(footer.substr(1 + kFooterPart2Size));
  if (layout->format_version < 2 || layout->format_version > 5) {
    *error = StrCat("format_version ", layout->format_version, " is not 2..5");
    return false;
  }
  std::string_view handles = footer.substr(1, kFooterPart2Size);
  Handle metaindex, index;
  if (!GetHandle(&handles, &metaindex) || !GetHandle(&handles, &index)) {
    *error = "unreadable footer handles";
    return false;
  }

  std::vector<Region> regions;
  auto add_block = [&](const Handle& h, std::string kind, int ordinal) {
    regions.push_back(Region{.offset = h.offset,
                             .size = h.size + kBlockTrailerSize,
                             .kind = std::move(kind),
                             .ordinal = ordinal,
                             .body_size = h.size});
  };
  if (!InFile(file, metaindex) || !InFile(file, index)) {
    *error = "footer handle outside the file";
    return false;
  }
  add_block(metaindex, "metaindex", 0);
  add_block(index, "index", 0);
  regions.push_back(Region{.offset = footer_offset, .size = kFooterSize, .kind = "footer"});

  std::string block;
  if (!BlockContents(file, metaindex, &block, error)) return false;
  Handle properties;
  bool have_properties = false;
  if (!ForEachEntry(
          block, /*delta_values=*/false,
          [&](const std::string& name, uint32_t, std::string_view value, size_t*) {
            Handle h;
            if (!GetHandle(&value, &h) || !InFile(file, h)) return false;
            std::string kind = MetaKind(name);
            if (kind == "properties") {
              properties = h;
              have_properties = true;
            }
            add_block(h, std::move(kind), 0);
            return true;
          },
          error)) {
    *error = StrCat("metaindex: ", *error);
    return false;
  }

  layout->index_compression = static_cast<uint8_t>(file[index.offset + index.size]);
  if (!BlockContents(file, index, &block, error)) {
    *error = StrCat("index: ", *error);
    return false;
  }
  const bool delta = layout->format_version >= 4;
  Handle previous;
  int ordinal = 0;
  if (!ForEachEntry(
          block, delta,
          [&](const std::string&, uint32_t shared, std::string_view value, size_t* used) {
            const size_t before = value.size();
            Handle h;
            if (!delta || shared == 0) {
              if (!GetHandle(&value, &h)) return false;
            } else {
              uint64_t zigzag = 0;
              if (!GetVarint64(&value, &zigzag)) return false;
              const int64_t d =
                  static_cast<int64_t>(zigzag >> 1) ^ -static_cast<int64_t>(zigzag & 1);
              h.offset = previous.offset + previous.size + kBlockTrailerSize;
              h.size = previous.size + d;
            }
            *used = before - value.size();
            if (!InFile(file, h)) return false;
            previous = h;
            add_block(h, "data", ordinal++);
            return true;
          },
          error)) {
    *error = StrCat("index: ", *error);
    return false;
  }

  if (have_properties && BlockContents(file, properties, &block, error)) {
    ForEachEntry(
        block, false,
        [&](const std::string& name, uint32_t, std::string_view value, size_t*) {
          if (name == "rocksdb.column.family.name") layout->column_family = std::string(value);
          return true;
        },
        error);
  }

  // Every byte must belong to exactly one region: data blocks from 0, then
  // the meta blocks, the metaindex and the footer, with nothing in between.
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.offset < b.offset; });
  uint64_t at = 0;
  for (const Region& r : regions) {
    if (r.offset != at) {
      *error =
          StrCat("regions do not tile the file: ", r.kind, " at ", r.offset, ", expected ", at);
      return false;
    }
    at += r.size;
  }
  if (at != file.size()) {
    *error = StrCat("regions end at ", at, " of ", file.size());
    return false;
  }
  layout->regions = std::move(regions);
  error->clear();
  return true;
}

const Region* RegionAt(const SstLayout& layout, uint64_t offset) {
  for (const Region& r : layout.regions) {
    if (offset >= r.offset && offset < r.offset + r.size) return &r;
  }
  return nullptr;
}

std::string DescribeSstOffset(std::string_view file, const SstLayout& layout, uint64_t offset) {
  const Region* r = RegionAt(layout, offset);
  if (r == nullptr) return "outside every region";
  const uint64_t in = offset - r->offset;
  if (r->kind == "footer") {
    // Byte 0 checksum type, then the two handles, zero padding up to byte 41,
    // format_version (4 bytes) and the magic number (8 bytes).
    if (in == 0) return "footer: checksum type";
    if (in >= 1 + kFooterPart2Size + 4) return "footer: magic number";
    if (in >= 1 + kFooterPart2Size) return "footer: format_version";
    std::string_view handles = file.substr(r->offset + 1, kFooterPart2Size);
    const size_t all = handles.size();
    Handle h;
    GetHandle(&handles, &h);
    const size_t meta_end = 1 + (all - handles.size());
    GetHandle(&handles, &h);
    const size_t index_end = 1 + (all - handles.size());
    if (in < meta_end) return "footer: metaindex handle";
    if (in < index_end) return "footer: index handle";
    return "footer: zero padding";
  }
  std::string name = r->kind == "data" ? StrCat("data block ", r->ordinal) : r->kind;
  if (in < r->body_size) return StrCat(name, " (+", in, " of ", r->body_size, ")");
  if (in == r->body_size) return StrCat(name, " trailer: compression type");
  return StrCat(name, " trailer: checksum byte ", in - r->body_size - 1);
}

std::string DescribeLogOffset(std::string_view file, uint64_t offset) {
  const uint64_t block = offset / kLogBlockSize;
  const uint64_t block_end = std::min<uint64_t>((block + 1) * kLogBlockSize, file.size());
  uint64_t at = block * kLogBlockSize;
  for (int record = 0;; ++record) {
    if (block_end - at < kLogHeaderSize) {
      return StrCat("block ", block, " trailer padding");
    }
    const uint32_t length = static_cast<uint8_t>(file[at + 4]) |
                            (static_cast<uint32_t>(static_cast<uint8_t>(file[at + 5])) << 8);
    const int type = static_cast<uint8_t>(file[at + 6]);
    if (type == 0 && length == 0) {
      return StrCat("block ", block, " zero padding after record ", record - 1);
    }
    const uint64_t header = type >= 5 ? kRecyclableLogHeaderSize : kLogHeaderSize;
    const std::string what = StrCat("block ", block, " record ", record, " (", LogRecordType(type),
                                    ", ", length, " bytes)");
    if (offset < at + header) {
      const uint64_t h = offset - at;
      return StrCat(what, " header: ",
                    h < 4   ? "crc"
                    : h < 6 ? "length"
                    : h < 7 ? "type"
                            : "log number");
    }
    if (offset < at + header + length) {
      return StrCat(what, " payload +", offset - at - header);
    }
    at += header + length;
    if (at > block_end) return StrCat(what, " runs past its block");
  }
}

}  // namespace annals::testing
