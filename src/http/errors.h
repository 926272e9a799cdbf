// How the core's error codes become HTTP statuses: the one mapping every handler uses, so the
// same failure always gets the same answer (docs/API.md lists the codes).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace vidproc::http {

int HttpStatusFor(ErrorCode code);

// An error answer before it is sent (Exchange::SendError writes its envelope): the HTTP status,
// the code clients match on, the message for people.
struct HttpError {
  int status = 500;
  std::string code;
  std::string message;
  // A limit that passes: the Retry-After header, in seconds (0: none).
  int retry_after_s = 0;
  // The message came from a backend (a libpq or S3 text, a path, a bucket URL): for the log, not
  // for the client, when the status is 5xx. Errors the HTTP layer words itself leave it false.
  bool internal_detail = false;
};
HttpError ToHttpError(const Status& status);

// What a client sees of a 5xx that came from a backend: a generic sentence for the status, and
// the request id under which the log has the details.
std::string GenericServerMessage(int status, std::string_view request_id);

// Whether the same request can succeed later unchanged: the code's own `retryable` for the core's
// codes (IsRetryable), else from the HTTP status (a limit or an outage: 408, 429, 5xx but 501).
bool IsRetryableAnswer(int http_status, std::string_view code);

// The error envelope: {"error": {"code", "message", "retryable", "request_id"}} and a newline.
std::string ErrorBody(int http_status, std::string_view code, std::string_view message,
                      std::string_view request_id);

}  // namespace vidproc::http
