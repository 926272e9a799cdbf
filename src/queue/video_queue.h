// Videos and their processing jobs: the part of the database that the API and the workers share.
// A job is claimed with a lease (owner, random token, expiry) that the running worker renews; a
// completion or failure is accepted only from the current lease holder, so a worker that lost its
// lease (it stalled, or was presumed dead and its job re-claimed) can never overwrite a newer
// result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/status.h"

namespace vidproc::queue {

// kWaitingForUpload: a direct upload's video, created with its upload URL, before any byte.
enum class VideoStatus { kUploading, kQueued, kProcessing, kReady, kFailed, kWaitingForUpload };

std::string_view StatusName(VideoStatus status);
std::optional<VideoStatus> ParseVideoStatus(std::string_view name);

struct Video {
  std::string id;
  VideoStatus status = VideoStatus::kQueued;
  std::string filename;  // as uploaded: inert data, never used as a path
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t size_bytes = 0;  // of the original upload
  double progress = 0;     // 0..1 while processing
  std::optional<int64_t> eta_seconds;
  int attempts = 0;        // claims so far
  std::string error_code;  // set when failed (and kept from the last failed attempt)
  std::string error_message;
  nlohmann::json source;     // the probe of the original, null until processed
  nlohmann::json output;     // the output's description, null until ready
  bool has_original = true;  // false once the original was replaced by the processed video
  // The uploading platform's own id and data, checked where they enter (http/platform_ids.h)
  // and kept as given.
  std::string external_id;  // empty: none
  nlohmann::json metadata;  // an object, or null: none
  // An import (POST /api/v1/videos with a JSON body) names where its original is instead of
  // sending it: an object of the platform's in the bucket, or a URL the worker fetches. Both
  // empty for uploads. The URL is kept as given (a presigned URL's signature included, to fetch
  // it): never logged or shown whole (RedactedUrl).
  std::string import_key;
  std::string import_url;
  // The processed video is written back to import_key (and its thumbnail beside it,
  // storage::ThumbnailKeyBeside) instead of under the video's own keys.
  bool replace_source = false;
  // HLS of the running job is published (MarkPlayable); a ready video's is in `output`.
  bool playable = false;
  // What the worker that probed the original predicts the job costs (RecordEstimate): the
  // transcoder's peak memory and its run time with the settings chosen for it. Kept when the job
  // goes back to the queue (the file is the same); unset until a worker probed it.
  std::optional<double> predicted_memory_mb;
  std::optional<double> predicted_seconds;
  // Why a queued job that was claimed went back to wait (DeferJob): "memory" while its predicted
  // memory does not fit next to the jobs running. Empty otherwise; cleared when it is claimed.
  std::string waiting_for;
  // The worker holding the job's lease (its VIDPROC_WORKER_ID) while it is processing; empty
  // otherwise. Internal: the admission counts the jobs other workers run on its machine; the API
  // does not show it.
  std::string worker;
};

// A worker's prediction for a claimed job, and the probe it came from (the resource's `source`
// before the job is done).
struct JobEstimate {
  double memory_mb = 0;
  double seconds = 0;
  nlohmann::json source;
};

struct Claim {
  Video video;
  std::string lease_token;
  int64_t lease_expires_ms = 0;
  // How long the job waited for this claim: from when it became due (its upload completed, it
  // was retried, released or recovered, or a retry's backoff ended) to the claim, by the
  // claiming store's clock; 0 if another node's clock ran ahead.
  int64_t waited_ms = 0;
};

// Which videos ListVideos returns; an unset field matches every video.
struct VideoFilter {
  std::optional<VideoStatus> status;
  std::string external_id;  // exact match; empty: any
};

struct VideoPage {
  std::vector<Video> videos;
  std::string next_cursor;  // empty when there are no more
};

struct QueueCounts {
  int64_t waiting_for_upload = 0;
  int64_t uploading = 0;
  int64_t queued = 0;
  int64_t processing = 0;
  int64_t ready = 0;
  int64_t failed = 0;
  // When the longest-waiting queued video entered the queue (its last change); 0: none queued.
  int64_t oldest_queued_ms = 0;
};

// A direct upload: a capability URL that lets a client without the API token (a browser) upload
// one file for a video created beforehand (http/direct_uploads.h). Only the hash of the URL's
// secret is stored.
struct DirectUpload {
  std::string video_id;
  std::string secret_hash;  // hex SHA-256 of the secret
  int64_t max_bytes = 0;
  std::string cors_origin;  // an origin allowed besides the server's own list; empty: none
  int64_t expires_at_ms = 0;
  std::optional<int64_t> used_at_ms;  // set once an upload began with it
};

class VideoQueue {
 public:
  virtual ~VideoQueue() = default;

  // Records a new video in status kUploading or kQueued. kInvalidArgument if the id exists.
  virtual Status CreateVideo(const Video& video) = 0;
  // kUploading -> kQueued, once the whole original is stored.
  virtual Status MarkUploaded(const std::string& id, int64_t size_bytes) = 0;
  virtual Result<Video> GetVideo(const std::string& id) = 0;
  // Newest first, the videos `filter` matches; `cursor` is a previous page's next_cursor. Any
  // other cursor is refused with kInvalidArgument (the same error from every store).
  virtual Result<VideoPage> ListVideos(const VideoFilter& filter, int limit,
                                       const std::string& cursor) = 0;
  virtual Result<QueueCounts> Counts() = 0;
  // Videos whose record changed at or after `since_ms` (updated_at), oldest change first, at most
  // `limit`: the change feed behind the API's event stream, shared by every node on the database.
  virtual Result<std::vector<Video>> ListChangedSince(int64_t since_ms, int limit) = 0;

  // Claims the oldest queued job that is due for `worker_id`, unless that worker already holds
  // `max_processing` jobs: the cap is checked in the claiming transaction, so it holds however
  // many threads claim for the worker. With `memory_available_mb`, jobs predicted to need more
  // (RecordEstimate) are passed over; jobs not predicted yet are not. Increments attempts and
  // clears `waiting_for`. nullopt when there is nothing to claim or the cap is reached.
  virtual Result<std::optional<Claim>> ClaimNext(const std::string& worker_id, int64_t lease_ms,
                                                 int max_processing,
                                                 std::optional<double> memory_available_mb) = 0;
  // Records the claimed job's prediction and probe (the video's `source`). kLeaseLost as for
  // RenewLease.
  virtual Status RecordEstimate(const std::string& id, const std::string& token,
                                const JobEstimate& estimate) = 0;
  // Gives a claimed job back to wait `for_what` ("memory"): kQueued with its place in the queue
  // kept (its due time is not moved), the attempt not counted, `waiting_for` set until a claim.
  // kLeaseLost as for RenewLease.
  virtual Status DeferJob(const std::string& id, const std::string& token,
                          const std::string& for_what) = 0;
  // The jobs processing and then the queued ones in the order they will be claimed (due time),
  // at most `limit` queued ones: what a queue position and a predicted start are computed from
  // (queue/forecast.h).
  virtual Result<std::vector<Video>> ListQueue(int limit) = 0;
  // Extends the lease and records progress. kLeaseLost if `token` is not the current lease.
  // The job's HLS is published far enough to be watched (its playlists and first segments): the
  // resource says `playable` while the rest is encoded. Cleared whenever the job is claimed again,
  // fails, or is released or recovered (its published HLS is withdrawn then). kLeaseLost as for
  // RenewLease.
  virtual Status MarkPlayable(const std::string& id, const std::string& token) = 0;
  virtual Status RenewLease(const std::string& id, const std::string& token, int64_t lease_ms,
                            double progress, std::optional<int64_t> eta_seconds) = 0;
  // kProcessing -> kReady with the output description; the original is marked replaced unless
  // `original_kept`. kLeaseLost if `token` is not the current lease.
  virtual Status CompleteJob(const std::string& id, const std::string& token,
                             const nlohmann::json& source, const nlohmann::json& output,
                             bool original_kept) = 0;
  // Records the failure. With `retry_at_ms` the job goes back to kQueued, due then; without, the
  // video is kFailed. kLeaseLost if `token` is not the current lease.
  virtual Status FailJob(const std::string& id, const std::string& token, const Status& error,
                         std::optional<int64_t> retry_at_ms) = 0;
  // Gives a claimed job back untouched (graceful shutdown): kQueued, the attempt not counted.
  virtual Status ReleaseJob(const std::string& id, const std::string& token) = 0;
  // Jobs whose lease expired (their worker died): back to kQueued, or kFailed with
  // `process_crashed` once they have had `max_attempts` attempts. Returns how many were moved.
  virtual Result<int> RecoverExpiredLeases(int max_attempts) = 0;
  // kFailed -> kQueued with attempts reset. kInvalidState from any other status.
  virtual Status RetryVideo(const std::string& id) = 0;
  virtual Status DeleteVideo(const std::string& id) = 0;

  // Records `video` (status kWaitingForUpload) and its direct upload together.
  virtual Status CreateDirectUpload(const Video& video, const DirectUpload& upload) = 0;
  // kNotFound when the video has none (or is gone).
  virtual Result<DirectUpload> GetDirectUpload(const std::string& video_id) = 0;
  // Marks the direct upload used, atomically (whatever the number of processes): true for the
  // one call that found it unused, not expired and its video still waiting for its upload;
  // false for every other.
  virtual Result<bool> ConsumeDirectUpload(const std::string& video_id) = 0;
  // kWaitingForUpload -> kUploading with the file's name and size, once its upload began.
  // kInvalidState from any other status.
  virtual Status StartDirectUpload(const std::string& video_id, const std::string& filename,
                                   int64_t size_bytes) = 0;
  // Videos still waiting for their upload whose direct upload expired, unused or used more than
  // `used_grace_ms` ago (a whole-file upload that never finished), at most `limit`. Deleting the
  // video (DeleteVideo) keeps its direct upload as a record (so that its URL still says why it
  // is gone: 410), never listed again.
  virtual Result<std::vector<std::string>> ListExpiredDirectUploads(int64_t used_grace_ms,
                                                                    int limit) = 0;

  // Blocks up to `timeout_ms` or until a job may have become claimable (queued, retried, released
  // or recovered, by any process). True when woken by such an event. Stores without
  // notifications sleep the timeout and return false: callers poll.
  virtual bool WaitForJobs(int64_t timeout_ms) = 0;
};

}  // namespace vidproc::queue
