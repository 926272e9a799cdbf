#include "media/av_error.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>

#include "core/log.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace vidproc::media {

namespace {

// Errors of the system call that reads the file (local disks and network file systems). AVERROR(e)
// is -e for an errno value; libav's own codes (AVERROR_EOF, AVERROR_INVALIDDATA) are other numbers.
bool IsSystemReadError(int averror) {
  switch (-averror) {
    case EIO:
    case ENXIO:
    case ENODEV:
    case ESTALE:
    case ETIMEDOUT:
    case ENOLINK:
    case EREMOTEIO:
    case ECONNRESET: return true;
    default: return false;
  }
}

}  // namespace

std::string AvErrorText(int averror) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(averror, buf, sizeof buf);
  return buf;
}

Status FromAvError(int averror, ErrorCode code, const std::string& what) {
  if (averror == AVERROR_EXIT) {
    return Status(ErrorCode::kCancelled, "The job was cancelled.");
  }
  if (averror == AVERROR(ENOSPC)) {
    return Status(ErrorCode::kOutputWriteFailed, what + ": no space left on the device.");
  }
  return Status(code, what + " (" + AvErrorText(averror) + ").");
}

Status ReadStopStatus(int averror, int io_error) {
  if (averror == AVERROR_EXIT || io_error == AVERROR_EXIT) {
    return Status(ErrorCode::kCancelled, "The job was cancelled.");
  }
  // Every failed read of the file protocol is a system error, whatever its number.
  const int system_error = io_error < 0 && io_error != AVERROR_EOF ? io_error
                           : IsSystemReadError(averror)            ? averror
                                                                   : 0;
  if (system_error != 0) {
    return FromAvError(system_error, ErrorCode::kInputReadFailed, "Reading the input file failed");
  }
  return Status::Ok();
}

namespace {

// A damaged file can make a decoder complain for every packet: after this many lines the rest
// are counted, not printed.
constexpr int kMaxAvLogLines = 100;
std::atomic<int> g_av_log_lines{0};

void AvLogCallback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_WARNING && GetLogLevel() != LogLevel::kDebug) return;
  if (level > AV_LOG_VERBOSE) return;
  int n = g_av_log_lines.fetch_add(1);
  if (n == kMaxAvLogLines) LogWarning("further libav messages are suppressed");
  if (n >= kMaxAvLogLines) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  // The scale filter says this for every full-range (yuvj) source although it handles the range.
  if (text.empty() || text.find("deprecated pixel format used") != std::string::npos) return;
  LogLevel ours = level <= AV_LOG_ERROR ? LogLevel::kWarning  // libav errors are often recoverable
                  : level <= AV_LOG_WARNING ? LogLevel::kInfo
                                            : LogLevel::kDebug;
  Log(ours, text, {{"source", "libav"}});
}

}  // namespace

void InstallAvLogBridge() { av_log_set_callback(AvLogCallback); }

}  // namespace vidproc::media
