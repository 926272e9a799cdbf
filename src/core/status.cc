#include "core/status.h"

#include <array>

namespace vidproc {
namespace {

struct CodeEntry {
  ErrorCode code;
  std::string_view name;
  bool input_error;
};

constexpr std::array kCodes = {
    CodeEntry{ErrorCode::kOk, "ok", false},
    CodeEntry{ErrorCode::kEmptyFile, "empty_file", true},
    CodeEntry{ErrorCode::kNotAVideo, "not_a_video", true},
    CodeEntry{ErrorCode::kUnsupportedFormat, "unsupported_format", true},
    CodeEntry{ErrorCode::kNoVideoStream, "no_video_stream", true},
    CodeEntry{ErrorCode::kUnsupportedCodec, "unsupported_codec", true},
    CodeEntry{ErrorCode::kCorruptInput, "corrupt_input", true},
    CodeEntry{ErrorCode::kTruncatedInput, "truncated_input", true},
    CodeEntry{ErrorCode::kTooLargeFile, "too_large_file", true},
    CodeEntry{ErrorCode::kTooLargeDimensions, "too_large_dimensions", true},
    CodeEntry{ErrorCode::kTooLong, "too_long", true},
    CodeEntry{ErrorCode::kTooManyStreams, "too_many_streams", true},
    CodeEntry{ErrorCode::kTooHighFrameRate, "too_high_frame_rate", true},
    CodeEntry{ErrorCode::kInputNotFound, "input_not_found", false},
    CodeEntry{ErrorCode::kInputReadFailed, "input_read_failed", false},
    CodeEntry{ErrorCode::kOutputWriteFailed, "output_write_failed", false},
    CodeEntry{ErrorCode::kEncodeFailed, "encode_failed", false},
    CodeEntry{ErrorCode::kCancelled, "cancelled", false},
    CodeEntry{ErrorCode::kInvalidArgument, "invalid_argument", false},
    CodeEntry{ErrorCode::kInternal, "internal_error", false},
    CodeEntry{ErrorCode::kTimeout, "timeout", false},
    CodeEntry{ErrorCode::kProcessCrashed, "process_crashed", false},
    CodeEntry{ErrorCode::kNotFound, "not_found", false},
    CodeEntry{ErrorCode::kInvalidState, "invalid_state", false},
    CodeEntry{ErrorCode::kLeaseLost, "lease_lost", false},
    CodeEntry{ErrorCode::kStorageUnavailable, "storage_unavailable", false},
    CodeEntry{ErrorCode::kStorageFull, "storage_full", false},
    CodeEntry{ErrorCode::kStorageAuthFailed, "storage_auth_failed", false},
    CodeEntry{ErrorCode::kDatabaseError, "database_error", false},
    CodeEntry{ErrorCode::kInvalidConfig, "invalid_config", false},
};

const CodeEntry& Entry(ErrorCode code) {
  for (const auto& e : kCodes) {
    if (e.code == code) return e;
  }
  return kCodes.back();
}

}  // namespace

std::string_view CodeName(ErrorCode code) { return Entry(code).name; }

std::optional<ErrorCode> CodeFromName(std::string_view name) {
  for (const auto& e : kCodes) {
    if (e.name == name) return e.code;
  }
  return std::nullopt;
}

bool IsInputError(ErrorCode code) { return Entry(code).input_error; }

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(code_name());
  s += ": ";
  s += message_;
  return s;
}

}  // namespace vidproc
