#include "core/status.h"

#include <array>

namespace vidproc {
namespace {

struct CodeEntry {
  ErrorCode code;
  std::string_view name;
  bool input_error;
  // A later attempt with the same file can succeed without anyone changing anything: the
  // service's own transient failures (storage, database, time, a crashed or stopped process).
  // Never an input error, nor what needs a person (credentials, configuration, the request).
  bool retryable;
};

constexpr std::array kCodes = {
    CodeEntry{ErrorCode::kOk, "ok", false, false},
    CodeEntry{ErrorCode::kEmptyFile, "empty_file", true, false},
    CodeEntry{ErrorCode::kNotAVideo, "not_a_video", true, false},
    CodeEntry{ErrorCode::kUnsupportedFormat, "unsupported_format", true, false},
    CodeEntry{ErrorCode::kNoVideoStream, "no_video_stream", true, false},
    CodeEntry{ErrorCode::kUnsupportedCodec, "unsupported_codec", true, false},
    CodeEntry{ErrorCode::kCorruptInput, "corrupt_input", true, false},
    CodeEntry{ErrorCode::kTruncatedInput, "truncated_input", true, false},
    CodeEntry{ErrorCode::kTooLargeFile, "too_large_file", true, false},
    CodeEntry{ErrorCode::kTooLargeDimensions, "too_large_dimensions", true, false},
    CodeEntry{ErrorCode::kTooLong, "too_long", true, false},
    CodeEntry{ErrorCode::kTooManyStreams, "too_many_streams", true, false},
    CodeEntry{ErrorCode::kTooHighFrameRate, "too_high_frame_rate", true, false},
    CodeEntry{ErrorCode::kInputNotFound, "input_not_found", false, false},
    CodeEntry{ErrorCode::kInputReadFailed, "input_read_failed", false, true},
    CodeEntry{ErrorCode::kOutputWriteFailed, "output_write_failed", false, true},
    CodeEntry{ErrorCode::kEncodeFailed, "encode_failed", false, false},
    CodeEntry{ErrorCode::kCancelled, "cancelled", false, true},
    CodeEntry{ErrorCode::kInvalidArgument, "invalid_argument", false, false},
    CodeEntry{ErrorCode::kInternal, "internal_error", false, true},
    CodeEntry{ErrorCode::kTimeout, "timeout", false, true},
    CodeEntry{ErrorCode::kProcessCrashed, "process_crashed", false, true},
    CodeEntry{ErrorCode::kNotFound, "not_found", false, false},
    CodeEntry{ErrorCode::kInvalidState, "invalid_state", false, false},
    CodeEntry{ErrorCode::kLeaseLost, "lease_lost", false, true},
    CodeEntry{ErrorCode::kStorageUnavailable, "storage_unavailable", false, true},
    CodeEntry{ErrorCode::kStorageFull, "storage_full", false, true},
    CodeEntry{ErrorCode::kStorageAuthFailed, "storage_auth_failed", false, false},
    CodeEntry{ErrorCode::kDatabaseError, "database_error", false, true},
    CodeEntry{ErrorCode::kInvalidConfig, "invalid_config", false, false},
    CodeEntry{ErrorCode::kSourceRefused, "source_refused", true, false},
    CodeEntry{ErrorCode::kSourceFailed, "source_failed", true, false},
    CodeEntry{ErrorCode::kSourceUnavailable, "source_unavailable", false, true},
    CodeEntry{ErrorCode::kWouldExceedTimeout, "would_exceed_timeout", false, false},
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

bool IsRetryable(ErrorCode code) { return Entry(code).retryable; }

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(code_name());
  s += ": ";
  s += message_;
  return s;
}

}  // namespace vidproc
