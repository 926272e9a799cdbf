#pragma once

#include "core/status.h"

namespace vidproc::cli {

// Exit statuses of every subcommand; a worker running `vidproc transcode` as a child reads them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInputRefused = 1;  // the input itself is bad: retrying cannot help
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailed = 3;  // anything else: environment, output, internal
inline constexpr int kExitCancelled = 4;

inline int ExitCodeFor(const Status& s) {
  if (s.ok()) return kExitOk;
  if (s.code() == ErrorCode::kCancelled) return kExitCancelled;
  if (s.code() == ErrorCode::kInvalidArgument) return kExitUsage;
  return IsInputError(s.code()) ? kExitInputRefused : kExitFailed;
}

}  // namespace vidproc::cli
