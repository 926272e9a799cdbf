#include "queue/video_queue.h"

#include <array>

namespace vidproc::queue {
namespace {

constexpr std::array<std::pair<VideoStatus, std::string_view>, 6> kStatusNames = {{
    {VideoStatus::kUploading, "uploading"},
    {VideoStatus::kQueued, "queued"},
    {VideoStatus::kProcessing, "processing"},
    {VideoStatus::kReady, "ready"},
    {VideoStatus::kFailed, "failed"},
    {VideoStatus::kWaitingForUpload, "waiting_for_upload"},
}};

}  // namespace

std::string_view StatusName(VideoStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  return "failed";
}

std::optional<VideoStatus> ParseVideoStatus(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

}  // namespace vidproc::queue
