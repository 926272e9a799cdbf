// Where uploads go: the original of a new video, streamed into the BlobStore, recorded in the
// JobStore only once it is whole (so a failed or cut upload leaves no half-recorded video); and
// tus resumable uploads, whose received bytes are kept as parts in the BlobStore
// ("uploads/{id}/{offset}") so that any API node sharing the store and database can continue
// one, and a cut connection keeps what arrived. Every method blocks (database and storage):
// call them from the server's blocking pool.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/clock.h"
#include "http/import_request.h"
#include "http/platform_ids.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::http {

struct UploadOptions {
  int64_t max_upload_bytes = int64_t{10} << 30;
  int64_t expiry_ms = 24 * 3600 * 1000;
};

class Uploads {
 public:
  Uploads(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock,
          UploadOptions options)
      : store_(store), blobs_(blobs), clock_(clock), options_(options) {}

  // A whole upload: the writer for the new video's original, then Record once it is committed.
  Result<std::unique_ptr<storage::BlobWriter>> OpenOriginal(const std::string& id);
  // `ids` were checked (CheckPlatformIds).
  Result<queue::Video> Record(const std::string& id, const std::string& filename, int64_t size,
                              const PlatformIds& ids);

  // An import (checked: ParseImportRequest): a new video, queued, whose original a worker reads
  // from where the request says it is.
  Result<queue::Video> RecordImport(const ImportRequest& request);

  // tus: a new upload of `length` bytes (the video, status uploading).
  Result<queue::Video> CreateResumable(const std::string& filename, int64_t length,
                                       const PlatformIds& ids);
  struct State {
    queue::Video video;
    int64_t offset = 0;
  };
  // The upload's video and its offset (see Offset).
  Result<State> Find(const std::string& id);
  // The bytes received so far. An upload found complete but not yet queued (a crash between
  // the two) is finished here.
  Result<int64_t> Offset(const queue::Video& video);
  // The writer for bytes from `offset` on (the caller checked it is the current offset).
  Result<std::unique_ptr<storage::BlobWriter>> OpenPart(const std::string& id, int64_t offset);
  // After a PATCH brought the upload to `offset`: once every byte is there, assembles the
  // original and queues the video (the parts are listed only then). Returns the offset.
  Result<int64_t> AfterPatch(const queue::Video& video, int64_t offset);
  // Deletes a video's record and every blob it has (original, outputs, upload parts).
  Status Delete(const std::string& id);
  // Removes uploads started longer ago than the expiry. Returns how many.
  int RemoveExpired();
  // Removes the videos of direct uploads that expired before their upload began (or whose
  // whole-file upload began more than the upload expiry ago and never finished): each deletion
  // sends `video.deleted`. Returns how many.
  int RemoveExpiredDirectUploads();

  // An upload's lock, held until this goes out of scope.
  class Lock {
   public:
    Lock(Lock&& other) noexcept
        : uploads_(std::exchange(other.uploads_, nullptr)), id_(std::move(other.id_)) {}
    Lock& operator=(Lock&&) = delete;
    ~Lock();

   private:
    friend class Uploads;
    Lock(Uploads* uploads, std::string id) : uploads_(uploads), id_(std::move(id)) {}
    Uploads* uploads_;
    std::string id_;
  };
  // One writer at a time per upload on this node (tus asks servers to lock): nullopt while
  // another request holds the lock.
  std::optional<Lock> TryLock(const std::string& id);

 private:
  struct Part {
    int64_t offset;
    std::string key;
    int64_t size;
  };
  Result<std::vector<Part>> Parts(const std::string& id);
  Result<int64_t> Contiguous(const std::vector<Part>& parts);
  Status Assemble(const std::string& id, const std::vector<Part>& parts, int64_t length);

  queue::JobStore* store_;
  storage::BlobStore* blobs_;
  const Clock* clock_;
  const UploadOptions options_;
  std::mutex mutex_;
  std::set<std::string> locked_;
};

}  // namespace vidproc::http
