// Errors as values. A Status is a stable machine code plus a human sentence that says what
// happened and what to do. Codes are part of the public contract (docs/ERRORS.md): they reach
// API clients and logs, so never rename one; add new ones instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vidproc {

enum class ErrorCode {
  kOk = 0,
  // Caused by the input file (permanent: retrying the same file gives the same answer).
  kEmptyFile,
  kNotAVideo,
  kUnsupportedFormat,
  kNoVideoStream,
  kUnsupportedCodec,
  kCorruptInput,
  kTruncatedInput,
  kTooLargeFile,
  kTooLargeDimensions,
  kTooLong,
  kTooManyStreams,
  kTooHighFrameRate,
  // Caused by the environment or the caller.
  kInputNotFound,
  kInputReadFailed,
  kOutputWriteFailed,
  kEncodeFailed,
  kCancelled,
  kInvalidArgument,
  kInternal,
  // Jobs, storage and configuration.
  kTimeout,             // a job ran past VIDEO_PROCESSING_TIMEOUT
  kProcessCrashed,      // the transcoding child died of a signal vidproc did not send
  kNotFound,            // no video, job or blob with that id or key
  kInvalidState,        // the operation does not apply in the current status (retry a ready video)
  kLeaseLost,           // a job's lease expired or was taken over: the result is not accepted
  kStorageUnavailable,  // the blob store cannot be reached or failed (transient)
  kStorageFull,         // no space left in the blob store or scratch directory
  kStorageAuthFailed,   // the blob store refused our credentials (not retried)
  kDatabaseError,       // the job database failed
  kInvalidConfig,       // a configuration variable is unknown or has a bad value
  kSourceRefused,       // an import's URL is not allowed (scheme, credentials, a private address)
  kSourceFailed,        // an import's source answered an error (404, 403, ...)
  kSourceUnavailable,   // an import's source cannot be reached now (DNS, connect, 5xx, stall)
  kWouldExceedTimeout,  // predicted to run past VIDEO_PROCESSING_TIMEOUT even with the cheapest
                        // settings: failed before it starts
};
inline constexpr ErrorCode kLastErrorCode = ErrorCode::kWouldExceedTimeout;

// The stable snake_case name of a code ("truncated_input").
std::string_view CodeName(ErrorCode code);
// The inverse of CodeName; nullopt for an unknown name.
std::optional<ErrorCode> CodeFromName(std::string_view name);
// True for codes that describe the input file itself: retrying cannot help.
bool IsInputError(ErrorCode code);
// True for codes a retry can fix (`retryable` in error objects; docs/ERRORS.md): storage,
// database, timeout and other transient failures of the service. False for the user's file and
// for what needs a person to change something first.
bool IsRetryable(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  std::string_view code_name() const { return CodeName(code_); }
  const std::string& message() const { return message_; }

  // "truncated_input: The file ends early ..." for logs and terminals.
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design
  Result(ErrorCode code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok()
  const Status& status() const { return std::get<Status>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vidproc

#define VIDPROC_CONCAT_INNER(a, b) a##b
#define VIDPROC_CONCAT(a, b) VIDPROC_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)           \
  do {                                  \
    ::vidproc::Status _status = (expr); \
    if (!_status.ok()) return _status;  \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(VIDPROC_CONCAT(_result_, __LINE__), lhs, expr)
