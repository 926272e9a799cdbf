#include "http/errors.h"

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace vidproc::http {

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kSourceRefused:
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
    case ErrorCode::kTooHighFrameRate:
    case ErrorCode::kSourceFailed: return 422;
    case ErrorCode::kSourceUnavailable: return 502;
    case ErrorCode::kStorageUnavailable:
    case ErrorCode::kStorageAuthFailed:
    case ErrorCode::kDatabaseError: return 503;
    case ErrorCode::kStorageFull: return 507;
    case ErrorCode::kTimeout:
    case ErrorCode::kWouldExceedTimeout: return 504;
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
  HttpError error{HttpStatusFor(status.code()), std::string(status.code_name()), status.message()};
  error.internal_detail = true;
  return error;
}

std::string GenericServerMessage(int status, std::string_view request_id) {
  std::string sentence;
  switch (status) {
    case 503:
      sentence = "A service the server depends on is unavailable; try again shortly.";
      break;
    case 504: sentence = "The server took too long; try again."; break;
    case 507: sentence = "The server is out of storage space; try again later."; break;
    default: sentence = "Something went wrong on the server; try again."; break;
  }
  return sentence + " The server's log has the details under request id " +
         std::string(request_id) + ".";
}

bool IsRetryableAnswer(int http_status, std::string_view code) {
  if (auto known = CodeFromName(code)) return IsRetryable(*known);
  switch (http_status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 507: return true;
    default: return false;
  }
}

std::string ErrorBody(int http_status, std::string_view code, std::string_view message,
                      std::string_view request_id) {
  nlohmann::json body = {{"error",
                          {{"code", code},
                           {"message", message},
                           {"retryable", IsRetryableAnswer(http_status, code)}}}};
  if (!request_id.empty()) body["error"]["request_id"] = request_id;
  // Never throws: the message may hold bytes from a request (error_handler_t::replace).
  return DumpJson(body) + "\n";
}

}  // namespace vidproc::http
