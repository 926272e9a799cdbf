#pragma once

#include <string>

#include "core/status.h"

namespace vidproc::media {

// The libav message for an AVERROR value ("Invalid data found when processing input").
std::string AvErrorText(int averror);

// The one place where libav error numbers become Statuses: `code` is what the failing step
// means for the user, `what` says which step failed; the libav text is appended.
Status FromAvError(int averror, ErrorCode code, const std::string& what);

// Routes libav's own log lines into the program log (warnings and errors only, unless debug).
void InstallAvLogBridge();

}  // namespace vidproc::media
