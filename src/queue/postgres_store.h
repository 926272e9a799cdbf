// JobStore on PostgreSQL, for many workers on many machines sharing one queue. Claims use
// SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers never wait on, or share, a job;
// migrations run under an advisory lock, so nodes starting together do not race. libpq behind a
// small RAII layer; parameterised queries only. A lost connection is re-established on the next
// call (the lease decides what happens to running jobs meanwhile).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "queue/job_store.h"

namespace vidproc::queue {

class PostgresStore : public JobStore {
 public:
  // `url` is postgres://user[:password]@host[:port]/database[?options].
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url, const Clock* clock);
  ~PostgresStore() override;

  Status CreateVideo(const Video& video) override;
  Status MarkUploaded(const std::string& id, int64_t size_bytes) override;
  Result<Video> GetVideo(const std::string& id) override;
  Result<VideoPage> ListVideos(const VideoFilter& filter, int limit,
                               const std::string& cursor) override;
  Result<QueueCounts> Counts() override;
  Result<std::vector<Video>> ListChangedSince(int64_t since_ms, int limit) override;
  Result<std::optional<Claim>> ClaimNext(const std::string& worker_id, int64_t lease_ms,
                                         int max_processing,
                                         std::optional<double> memory_available_mb) override;
  Status RecordEstimate(const std::string& id, const std::string& token,
                        const JobEstimate& estimate) override;
  Status DeferJob(const std::string& id, const std::string& token,
                  const std::string& for_what) override;
  Result<std::vector<Video>> ListQueue(int limit) override;
  Status MarkPlayable(const std::string& id, const std::string& token) override;
  Status RenewLease(const std::string& id, const std::string& token, int64_t lease_ms,
                    double progress, std::optional<int64_t> eta_seconds) override;
  Status CompleteJob(const std::string& id, const std::string& token, const nlohmann::json& source,
                     const nlohmann::json& output, bool original_kept) override;
  Status FailJob(const std::string& id, const std::string& token, const Status& error,
                 std::optional<int64_t> retry_at_ms) override;
  Status ReleaseJob(const std::string& id, const std::string& token) override;
  Result<int> RecoverExpiredLeases(int max_attempts) override;
  Status RetryVideo(const std::string& id) override;
  Status DeleteVideo(const std::string& id) override;
  Status CreateDirectUpload(const Video& video, const DirectUpload& upload) override;
  Result<DirectUpload> GetDirectUpload(const std::string& video_id) override;
  Result<bool> ConsumeDirectUpload(const std::string& video_id) override;
  Status StartDirectUpload(const std::string& video_id, const std::string& filename,
                           int64_t size_bytes) override;
  Result<std::vector<std::string>> ListExpiredDirectUploads(int64_t used_grace_ms,
                                                            int limit) override;
  bool WaitForJobs(int64_t timeout_ms) override;
  Status Heartbeat(const WorkerInfo& worker) override;
  Result<std::vector<WorkerInfo>> ListWorkers(int64_t seen_within_ms) override;
  Status RemoveWorker(const std::string& id) override;
  void EnableWebhookOutbox(bool enabled) override { outbox_enabled_ = enabled; }
  Result<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(int limit, int64_t lease_ms) override;
  Status MarkWebhookDelivered(int64_t id, const std::string& lease_token) override;
  Status RecordWebhookFailure(int64_t id, const std::string& lease_token, int64_t next_attempt_ms,
                              const std::string& error) override;
  Status GiveUpWebhook(int64_t id, const std::string& lease_token,
                       const std::string& error) override;
  Result<WebhookBacklog> CountWebhookBacklog() override;

  class Connection;

 private:
  PostgresStore(std::string url, const Clock* clock);
  Status Migrate();
  // Sets `column` to `value` and last_error to `error` on delivery `id` and drops its lease, if
  // `lease_token` still holds it and it is not settled yet.
  Status SettleDelivery(int64_t id, const std::string& lease_token, const char* column,
                        int64_t value, const std::optional<std::string>& error);

  const std::string url_;
  const Clock* clock_;
  std::atomic<bool> outbox_enabled_{false};
  std::mutex mutex_;
  std::unique_ptr<Connection> conn_;  // GUARDED_BY(mutex_)
  std::timed_mutex listen_mutex_;
  std::unique_ptr<Connection> listener_;  // GUARDED_BY(listen_mutex_): LISTEN vidproc_jobs
};

}  // namespace vidproc::queue
