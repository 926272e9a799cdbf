// How the core's error codes become HTTP statuses: the one mapping every handler uses, so the
// same failure always gets the same answer (docs/API.md lists the codes).
#pragma once

#include "core/status.h"

namespace vidproc::http {

int HttpStatusFor(ErrorCode code);

}  // namespace vidproc::http
