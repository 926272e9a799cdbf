// How the core's error codes become HTTP statuses: the one mapping every handler uses, so the
// same failure always gets the same answer (docs/API.md lists the codes).
#pragma once

#include <string>

#include "core/status.h"

namespace vidproc::http {

int HttpStatusFor(ErrorCode code);

// An error answer before it is sent (Exchange::SendError writes its envelope): the HTTP status,
// the code clients match on, the message for people.
struct HttpError {
  int status = 500;
  std::string code;
  std::string message;
};
HttpError ToHttpError(const Status& status);

}  // namespace vidproc::http
