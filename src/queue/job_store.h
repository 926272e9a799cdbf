// The durable record of every video and its processing job. A job is claimed with a lease
// (owner, random token, expiry) that the running worker renews; a completion or failure is
// accepted only from the current lease holder, so a worker that lost its lease (it stalled, or
// was presumed dead and its job re-claimed) can never overwrite a newer result. Implementations:
// SqliteStore (embedded default), PostgresStore (a later issue); every implementation passes
// tests/queue/job_store_conformance_test.cc.
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

enum class VideoStatus { kUploading, kQueued, kProcessing, kReady, kFailed };

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
};

struct Claim {
  Video video;
  std::string lease_token;
  int64_t lease_expires_ms = 0;
};

struct VideoPage {
  std::vector<Video> videos;
  std::string next_cursor;  // empty when there are no more
};

struct QueueCounts {
  int64_t uploading = 0;
  int64_t queued = 0;
  int64_t processing = 0;
  int64_t ready = 0;
  int64_t failed = 0;
};

// A worker process as it reports itself (the registry behind `vidproc status` and the API's queue).
struct WorkerInfo {
  std::string id;  // VIDPROC_WORKER_ID, <hostname>:<pid> by default
  std::string host;
  int pid = 0;
  int slots = 0;
  std::string version;
  int64_t started_at_ms = 0;
  int64_t last_seen_ms = 0;  // set by the store
};

// A webhook delivery in the outbox (table webhook_outbox): one event about one video, written in
// the same transaction as the status change it reports, sent until the receiver answers 2xx or
// the sender gives up. `id` is stable and unique: receivers deduplicate by it.
struct WebhookDelivery {
  int64_t id = 0;
  std::string video_id;
  std::string event;  // "video.ready" | "video.failed"
  int attempts = 0;   // sends started so far, counting the one this claim is for
  int64_t created_at_ms = 0;
  std::string lease_token;  // proves the claim to MarkWebhookDelivered and friends
};

inline constexpr std::string_view kEventVideoReady = "video.ready";
inline constexpr std::string_view kEventVideoFailed = "video.failed";

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Records a new video in status kUploading or kQueued. kInvalidArgument if the id exists.
  virtual Status CreateVideo(const Video& video) = 0;
  // kUploading -> kQueued, once the whole original is stored.
  virtual Status MarkUploaded(const std::string& id, int64_t size_bytes) = 0;
  virtual Result<Video> GetVideo(const std::string& id) = 0;
  // Newest first; `status` filters when set; `cursor` is a previous page's next_cursor.
  virtual Result<VideoPage> ListVideos(std::optional<VideoStatus> status, int limit,
                                       const std::string& cursor) = 0;
  virtual Result<QueueCounts> Counts() = 0;
  // Videos whose record changed at or after `since_ms` (updated_at), oldest change first, at most
  // `limit`: the change feed behind the API's event stream, shared by every node on the database.
  virtual Result<std::vector<Video>> ListChangedSince(int64_t since_ms, int limit) = 0;

  // Claims the oldest queued job that is due for `worker_id`, unless that worker already holds
  // `max_processing` jobs: the cap is checked in the claiming transaction, so it holds however
  // many threads claim for the worker. Increments attempts. nullopt when there is nothing to
  // claim or the cap is reached.
  virtual Result<std::optional<Claim>> ClaimNext(const std::string& worker_id, int64_t lease_ms,
                                                 int max_processing) = 0;
  // Extends the lease and records progress. kLeaseLost if `token` is not the current lease.
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

  // Blocks up to `timeout_ms` or until a job may have become claimable (queued, retried, released
  // or recovered, by any process). True when woken by such an event. Stores without
  // notifications sleep the timeout and return false: callers poll.
  virtual bool WaitForJobs(int64_t timeout_ms) = 0;

  // The worker registry. Heartbeat records (or refreshes) a worker as seen now.
  virtual Status Heartbeat(const WorkerInfo& worker) = 0;
  // Workers seen within `seen_within_ms`, by id.
  virtual Result<std::vector<WorkerInfo>> ListWorkers(int64_t seen_within_ms) = 0;
  // A worker that stops cleanly leaves the registry.
  virtual Status RemoveWorker(const std::string& id) = 0;

  // The webhook outbox. When enabled (off by default; a process turns it on when WEBHOOK_URL is
  // set), every transition to kReady (CompleteJob) or kFailed (FailJob without retry_at_ms,
  // RecoverExpiredLeases) also writes a delivery, in the same transaction: an event is never lost
  // nor invented. Every process that changes job states must enable it, workers included.
  virtual void EnableWebhookOutbox(bool enabled) = 0;
  // Leases up to `limit` deliveries that are due (next attempt at or before now), neither
  // delivered nor given up, and not leased by another claimer (or whose lease expired), for
  // `lease_ms`; oldest due first. Increments their attempts. Survives restarts like every row.
  virtual Result<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(int limit,
                                                                      int64_t lease_ms) = 0;
  // The receiver accepted the delivery: it is never claimed again. kLeaseLost if `lease_token`
  // is not the delivery's current lease.
  virtual Status MarkWebhookDelivered(int64_t id, const std::string& lease_token) = 0;
  // A send failed: the lease is dropped and the delivery is due again at `next_attempt_ms`, with
  // `error` kept as its last error. kLeaseLost as above.
  virtual Status RecordWebhookFailure(int64_t id, const std::string& lease_token,
                                      int64_t next_attempt_ms, const std::string& error) = 0;
  // Stops retrying: the delivery is marked given up (with `error`) and never claimed again.
  // kLeaseLost as above.
  virtual Status GiveUpWebhook(int64_t id, const std::string& lease_token,
                               const std::string& error) = 0;
};

// For implementations: what every store says the same way.
namespace store_util {
Status NoSuchVideo(const std::string& id);
Status LeaseLost(const std::string& id);
// The error recorded on a job whose lease expired too many times.
Status Crashed();
std::string NewLeaseToken();
// A webhook delivery whose lease is not the caller's (it expired and was claimed again, or the
// delivery was settled meanwhile).
Status WebhookLeaseLost(int64_t id);
// Adds `n` videos of `status` to `counts`.
void AddCount(QueueCounts* counts, VideoStatus status, int64_t n);
}  // namespace store_util

}  // namespace vidproc::queue
