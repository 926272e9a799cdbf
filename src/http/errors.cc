#include "http/errors.h"

namespace vidproc::http {

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInputReadFailed: return 400;
    case ErrorCode::kNotFound:
    case ErrorCode::kInputNotFound: return 404;
    case ErrorCode::kInvalidState:
    case ErrorCode::kLeaseLost: return 409;
    case ErrorCode::kTooLargeFile: return 413;
    case ErrorCode::kUnsupportedFormat: return 415;
    case ErrorCode::kEmptyFile:
    case ErrorCode::kNotAVideo:
    case ErrorCode::kNoVideoStream:
    case ErrorCode::kUnsupportedCodec:
    case ErrorCode::kCorruptInput:
    case ErrorCode::kTruncatedInput:
    case ErrorCode::kTooLargeDimensions:
    case ErrorCode::kTooLong:
    case ErrorCode::kTooManyStreams:
    case ErrorCode::kTooHighFrameRate: return 422;
    case ErrorCode::kStorageUnavailable:
    case ErrorCode::kStorageAuthFailed:
    case ErrorCode::kDatabaseError: return 503;
    case ErrorCode::kStorageFull: return 507;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kCancelled:
    case ErrorCode::kOutputWriteFailed:
    case ErrorCode::kEncodeFailed:
    case ErrorCode::kInternal:
    case ErrorCode::kProcessCrashed:
    case ErrorCode::kInvalidConfig: return 500;
  }
  return 500;
}

HttpError ToHttpError(const Status& status) {
  return {HttpStatusFor(status.code()), std::string(status.code_name()), status.message()};
}

}  // namespace vidproc::http
