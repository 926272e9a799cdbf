#include "http/admission.h"

#include <sys/statvfs.h>

namespace vidproc::http {

HttpError Admission::TooMany(std::string code, std::string message) const {
  HttpError error{429, std::move(code), std::move(message)};
  error.retry_after_s = options_.retry_after_s;
  return error;
}

std::pair<std::optional<Admission::UploadSlot>, std::optional<HttpError>> Admission::TryUpload(
    const std::string& client) {
  std::lock_guard lock(mutex_);
  if (options_.max_uploads > 0 && uploads_ >= options_.max_uploads) {
    return {std::nullopt, TooMany("too_many_uploads",
                                  "The server is receiving as many uploads as it takes at once; "
                                  "try again shortly.")};
  }
  int& from_client = per_client_[client];
  if (options_.max_uploads_per_client > 0 && from_client >= options_.max_uploads_per_client) {
    return {std::nullopt,
            TooMany("too_many_uploads",
                    "You are sending as many uploads at once as one client may; wait for one to "
                    "finish.")};
  }
  ++from_client;
  ++uploads_;
  return {UploadSlot(this, client), std::nullopt};
}

Admission::UploadSlot::~UploadSlot() {
  if (!admission_) return;
  std::lock_guard lock(admission_->mutex_);
  --admission_->uploads_;
  auto it = admission_->per_client_.find(client_);
  if (it != admission_->per_client_.end() && --it->second <= 0) admission_->per_client_.erase(it);
}

std::optional<HttpError> Admission::CheckNewVideo(queue::JobStore* store,
                                                  int64_t reserved_bytes) const {
  if (options_.max_queued_videos > 0) {
    auto counts = store->Counts();
    if (!counts.ok()) return ToHttpError(counts.status());
    if (counts->queued >= options_.max_queued_videos) {
      return TooMany("queue_full", "The queue holds " + std::to_string(counts->queued) +
                                       " videos, as many as it takes; try again later.");
    }
  }
  if (reserved_bytes > 0 && options_.max_reserved_upload_bytes > 0) {
    // The unfinished resumable uploads, page by page (creating one is rare next to its PATCHes).
    int64_t reserved = 0;
    std::string cursor;
    do {
      auto page = store->ListVideos({.status = queue::VideoStatus::kUploading, .external_id = ""},
                                    200, cursor);
      if (!page.ok()) return ToHttpError(page.status());
      for (const auto& video : page->videos) reserved += video.size_bytes;
      cursor = page->next_cursor;
    } while (!cursor.empty() && reserved + reserved_bytes <= options_.max_reserved_upload_bytes);
    if (reserved + reserved_bytes > options_.max_reserved_upload_bytes) {
      return TooMany("upload_quota_exceeded",
                     "Unfinished resumable uploads already reserve " + std::to_string(reserved) +
                         " of " + std::to_string(options_.max_reserved_upload_bytes) +
                         " bytes; finish or delete some, or try again later.");
    }
  }
  return CheckDisk();
}

std::optional<HttpError> Admission::CheckDisk() const {
  if (options_.disk_reserve_bytes <= 0 || options_.disk_path.empty()) return std::nullopt;
  struct statvfs fs {};
  if (::statvfs(options_.disk_path.c_str(), &fs) != 0) return std::nullopt;  // checked at writes
  const auto free_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  if (free_bytes >= options_.disk_reserve_bytes) return std::nullopt;
  HttpError error{507, "storage_full",
                  "The server keeps its remaining disk space for the videos it is processing; "
                  "try again later."};
  error.retry_after_s = options_.retry_after_s;
  return error;
}

}  // namespace vidproc::http
