#include "queue/job_store.h"

#include <array>

namespace vidproc::queue {
namespace {

constexpr std::array<std::pair<VideoStatus, std::string_view>, 5> kStatusNames = {{
    {VideoStatus::kUploading, "uploading"},
    {VideoStatus::kQueued, "queued"},
    {VideoStatus::kProcessing, "processing"},
    {VideoStatus::kReady, "ready"},
    {VideoStatus::kFailed, "failed"},
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

namespace store_util {

Status NoSuchVideo(const std::string& id) {
  return Status(ErrorCode::kNotFound, "There is no video with id '" + id + "'.");
}

Status LeaseLost(const std::string& id) {
  return Status(
      ErrorCode::kLeaseLost,
      "The job of video " + id + " is no longer held by this worker (its lease expired).");
}

Status WebhookLeaseLost(int64_t id) {
  return Status(ErrorCode::kLeaseLost, "Webhook delivery " + std::to_string(id) +
                                           " is no longer held by this sender (its lease "
                                           "expired or it was settled).");
}

Status Crashed() {
  return Status(ErrorCode::kProcessCrashed,
                "Processing stopped without a result too many times (the worker or its "
                "transcoder died). The original is kept: retry it.");
}

std::string NewLeaseToken() { return NewId() + NewId(); }

void AddCount(QueueCounts* c, VideoStatus status, int64_t n) {
  switch (status) {
    case VideoStatus::kUploading: c->uploading += n; break;
    case VideoStatus::kQueued: c->queued += n; break;
    case VideoStatus::kProcessing: c->processing += n; break;
    case VideoStatus::kReady: c->ready += n; break;
    case VideoStatus::kFailed: c->failed += n; break;
  }
}

}  // namespace store_util
}  // namespace vidproc::queue
