#pragma once

#include <string>

#include "core/status.h"

namespace vidproc::media {

// The libav message for an AVERROR value ("Invalid data found when processing input").
std::string AvErrorText(int averror);

// The one place where libav error numbers become Statuses: `code` is what the failing step
// means for the user, `what` says which step failed; the libav text is appended.
Status FromAvError(int averror, ErrorCode code, const std::string& what);

// Why av_read_frame stopped reading the input: `averror` is what it returned (< 0), `io_error`
// the input AVIOContext's `error` field (non-zero once a read of the file failed; demuxers often
// report that failure as the end of the file or as damaged data).
// OK for the end of the data, cut or damaged data included: the caller's duration and error
// checks judge the file. kCancelled when the interrupt callback stopped the read.
// kInputReadFailed (retried) when the system failed to read the file (EIO and the like): that
// says nothing about the file, and judging the short read would fail the video for good as
// truncated_input.
Status ReadStopStatus(int averror, int io_error);

// Routes libav's own log lines into the program log (warnings and errors only, unless debug).
void InstallAvLogBridge();

}  // namespace vidproc::media
