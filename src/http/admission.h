// What the API admits before it starts work a client asks for, so that no client (or flood of
// clients) can take what running jobs need: uploads at once (in all and per client address),
// videos waiting in the queue, bytes reserved by unfinished resumable uploads, and free disk.
// Each refusal is an HttpError with its stable code and Retry-After (429, or 507 for the disk).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "http/errors.h"
#include "queue/job_store.h"

namespace vidproc::http {

struct AdmissionOptions {
  int max_uploads = 0;                    // request bodies being uploaded at once (0: no cap)
  int max_uploads_per_client = 0;         // the same from one client address (0: no cap)
  int64_t max_queued_videos = 0;          // videos queued, not yet processing (0: no cap)
  int64_t max_reserved_upload_bytes = 0;  // Upload-Length of unfinished tus uploads (0: no cap)
  int64_t disk_reserve_bytes = 0;         // free space kept on `disk_path` (0: not checked)
  std::string disk_path;                  // the data directory
  int retry_after_s = 30;
};

class Admission {
 public:
  explicit Admission(AdmissionOptions options) : options_(std::move(options)) {}

  // One upload in progress, counted until this goes out of scope.
  class UploadSlot {
   public:
    UploadSlot(UploadSlot&& other) noexcept
        : admission_(std::exchange(other.admission_, nullptr)), client_(std::move(other.client_)) {}
    UploadSlot& operator=(UploadSlot&&) = delete;
    ~UploadSlot();

   private:
    friend class Admission;
    UploadSlot(Admission* admission, std::string client)
        : admission_(admission), client_(std::move(client)) {}
    Admission* admission_;
    std::string client_;
  };
  // A slot for an upload from `client`, or the refusal (429 too_many_uploads).
  std::pair<std::optional<UploadSlot>, std::optional<HttpError>> TryUpload(
      const std::string& client);

  // Blocking (database, statvfs): call on the blocking pool. The refusal of a new video or tus
  // upload of `reserved_bytes` (0 for a whole upload), if a cap says no.
  std::optional<HttpError> CheckNewVideo(queue::JobStore* store, int64_t reserved_bytes) const;
  // The refusal (507) when the disk has less free space than the reserve.
  std::optional<HttpError> CheckDisk() const;

  const AdmissionOptions& options() const { return options_; }

 private:
  HttpError TooMany(std::string code, std::string message) const;

  const AdmissionOptions options_;
  std::mutex mutex_;
  int uploads_ = 0;                        // GUARDED_BY(mutex_)
  std::map<std::string, int> per_client_;  // GUARDED_BY(mutex_)
};

}  // namespace vidproc::http
