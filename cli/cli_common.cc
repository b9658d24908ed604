// Shared pieces of the command line: exit codes, one-line errors, opening a
// store, JSON lines.

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include "cli/cli_internal.h"
#include "common/strings.h"

namespace annals::cli {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kAborted:
      return kExitConflict;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kDataLoss:
      return kExitCorruption;
    default:
      return kExitError;
  }
}

namespace {

// The length of the UTF-8 sequence at the start of `text` when it is a valid,
// shortest-form encoding of a code point that is not a surrogate, else 0.
size_t Utf8SequenceLength(std::string_view text, uint32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length;
  uint32_t cp;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

void AppendHexByte(std::string& out, unsigned char b) {
  constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x80) {
      AppendHexByte(out, c);
      ++i;
    } else {
      uint32_t cp = 0;
      const size_t n = Utf8SequenceLength(text.substr(i), &cp);
      if (n == 0 || cp <= 0x9F) {
        // Not UTF-8, or a C1 control (8-bit CSI and friends): byte by byte.
        const size_t bytes = n == 0 ? 1 : n;
        for (size_t k = 0; k < bytes; ++k) {
          AppendHexByte(out, static_cast<unsigned char>(text[i + k]));
        }
        i += bytes;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
    }
  }
  return out;
}

int ReportError(CliContext& ctx, int code, std::string_view message) {
  ctx.err << "annals: " << EscapeForTerminal(message) << '\n';
  ctx.err.flush();
  return code;
}

int ReportError(CliContext& ctx, const absl::Status& status) {
  std::string message(StdSv(status.message()));
  if (status.code() == absl::StatusCode::kDataLoss && message.find("verify") == std::string::npos) {
    message += "; the store is damaged: run 'annals verify' for the first bad position";
  }
  return ReportError(ctx, ExitCodeFor(status), message);
}

void AddEncryptionFromEnv(Options& options) {
  // The master key never goes on a command line (visible to every user in
  // ps): the path of a file holding it, through the environment.
  if (const char* file = std::getenv("ANNALS_MASTER_KEY_FILE"); file != nullptr && *file != 0) {
    options.encryption = EncryptionOptions{.master_key_file = file};
  }
}

absl::StatusOr<std::unique_ptr<EventStore>> OpenStore(const std::string& path, bool read_only) {
  Options options;
  AddEncryptionFromEnv(options);
  // Only append and import create stores (shared/cli-contract.md); they use
  // OpenStoreForWriting().
  options.read_only = read_only;
  options.create_if_missing = false;
  // A command line runs briefly: a small cache is enough and starts faster.
  options.block_cache_bytes = 16u << 20;
  return EventStore::Open(path, options);
}

absl::StatusOr<std::unique_ptr<EventStore>> OpenStoreForWriting(const std::string& path,
                                                                Durability durability) {
  Options options;
  AddEncryptionFromEnv(options);
  options.create_if_missing = true;
  options.durability = durability;
  // A command line runs briefly: a small cache is enough and starts faster.
  options.block_cache_bytes = 16u << 20;
  return EventStore::Open(path, options);
}

namespace {

// Called right after a write to ctx.out failed: the write(2) under it left
// its errno (libstdc++'s stream buffers make no other call that sets it in
// between). SIGPIPE is ignored (RunCli), so a reader that went away shows as
// EPIPE.
void NoteOutputFailure(CliContext& ctx) {
  if (ctx.output_errno == 0) ctx.output_errno = errno != 0 ? errno : EIO;
}

}  // namespace

bool WriteJson(CliContext& ctx, const Json& value) {
  if (!ctx.out) return false;
  const std::string line =
      value.dump(ctx.pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
  errno = 0;
  ctx.out << line << '\n';
  if (!ctx.out) {
    NoteOutputFailure(ctx);
    return false;
  }
  return true;
}

int FinishOutput(CliContext& ctx) {
  errno = 0;
  if (ctx.out) ctx.out.flush();
  if (!ctx.out) {
    NoteOutputFailure(ctx);
    if (ctx.output_errno == EPIPE) return kExitOk;
    return ReportError(ctx, kExitError,
                       StrCat("writing to stdout failed (", strerror(ctx.output_errno),
                              "); the output is incomplete"));
  }
  return kExitOk;
}

CLI::Option* AddStoreArg(CLI::App& app, std::string& store) {
  return app.add_option("store", store, "Store directory")->required();
}

CLI::Option* AddCount(CLI::App& app, const std::string& name, uint64_t& value,
                      const std::string& description) {
  static const CLI::Validator kNonNegative(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + text + "' is not a non-negative integer";
        }
        return "";
      },
      "", "non-negative");
  return app.add_option(name, value, description)->check(kNonNegative);
}

}  // namespace annals::cli
