// JobStore on an embedded SQLite database: WAL journal with synchronous=FULL (an accepted upload
// survives a power cut), versioned migrations, and a single-writer discipline: one connection per
// process behind a mutex, write transactions taken with BEGIN IMMEDIATE and a busy timeout, so
// several vidproc processes on one machine (a worker and `vidproc enqueue`) wait for each other
// instead of failing with SQLITE_BUSY.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "queue/job_store.h"

struct sqlite3;

namespace vidproc::queue {

class StatementCache;

// Copies the database at `source` to `destination` (which must not exist) with SQLite's online
// backup API: a consistent snapshot taken while other processes keep reading and writing (WAL
// readers do not block writers), written beside `destination` and renamed into place when whole.
Status BackupSqliteDatabase(const std::string& source, const std::string& destination);

class SqliteStore : public JobStore {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // `clock` must outlive the store.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, const Clock* clock);
  ~SqliteStore() override;

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

  // The schema version after migrations.
  int schema_version() const { return schema_version_; }

 private:
  SqliteStore(sqlite3* db, const Clock* clock);
  Status Migrate();
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). REQUIRES: mutex_ held.
  template <typename Body>
  Status Transaction(Body&& body);
  // The video's row, as every path creates it (an upload, an import, a direct upload's waiting
  // video). REQUIRES: mutex_ held.
  Status InsertVideo(const Video& video);

  std::mutex mutex_;
  sqlite3* db_;                                 // GUARDED_BY(mutex_); owned
  std::unique_ptr<StatementCache> statements_;  // GUARDED_BY(mutex_); of db_
  const Clock* clock_;
  std::atomic<bool> outbox_enabled_{false};
  int schema_version_ = 0;
  // Wakes this process's WaitForJobs when a job becomes claimable here (`vidproc serve`: the API
  // and the worker share the store), instead of leaving it to the next poll. Other processes on
  // the same file still poll.
  void WakeWaiters();
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  uint64_t wake_generation_ = 0;  // GUARDED_BY(wake_mutex_)
};

}  // namespace vidproc::queue
