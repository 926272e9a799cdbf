// A JobStore that forwards to another and fails the calls it is told to: the seam for testing how
// the worker survives database outages (like storage::FaultInjectingStore for BlobStore and
// LevelDB's FaultInjectionTestEnv). A failed (or throwing) call does not reach the target:
// nothing changes.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "queue/job_store.h"

namespace vidproc::queue {

class FaultInjectingJobStore : public JobStore {
 public:
  // `target` must outlive this store.
  explicit FaultInjectingJobStore(JobStore* target) : target_(target) {}

  // After `skip` more calls of method `op` ("CompleteJob", "RenewLease", ...; "*" for every
  // method) pass, the next `n` fail with `code`. Replaces an earlier rule for `op`; n = 0 clears
  // it.
  void FailNext(const std::string& op, int n, ErrorCode code = ErrorCode::kDatabaseError,
                int skip = 0) {
    std::lock_guard lock(mutex_);
    rules_[op] = Rule{skip, n, code, false};
  }
  // The same, but the next `n` calls throw std::runtime_error instead of returning an error: a
  // bug or a library that throws, which no background loop may die of.
  void ThrowNext(const std::string& op, int n, int skip = 0) {
    std::lock_guard lock(mutex_);
    rules_[op] = Rule{skip, n, ErrorCode::kInternal, true};
  }
  // Failures injected so far, over all methods.
  int injected() const { return injected_; }
  // Calls of `op` so far, failed or not.
  int calls(const std::string& op) const {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }

  Status CreateVideo(const Video& video) override {
    RETURN_IF_ERROR(Maybe("CreateVideo"));
    return target_->CreateVideo(video);
  }
  Status MarkUploaded(const std::string& id, int64_t size_bytes) override {
    RETURN_IF_ERROR(Maybe("MarkUploaded"));
    return target_->MarkUploaded(id, size_bytes);
  }
  Result<Video> GetVideo(const std::string& id) override {
    RETURN_IF_ERROR(Maybe("GetVideo"));
    return target_->GetVideo(id);
  }
  Result<VideoPage> ListVideos(const VideoFilter& filter, int limit,
                               const std::string& cursor) override {
    RETURN_IF_ERROR(Maybe("ListVideos"));
    return target_->ListVideos(filter, limit, cursor);
  }
  Result<QueueCounts> Counts() override {
    RETURN_IF_ERROR(Maybe("Counts"));
    return target_->Counts();
  }
  Result<std::vector<Video>> ListChangedSince(int64_t since_ms, int limit) override {
    RETURN_IF_ERROR(Maybe("ListChangedSince"));
    return target_->ListChangedSince(since_ms, limit);
  }
  Result<std::optional<Claim>> ClaimNext(const std::string& worker_id, int64_t lease_ms,
                                         int max_processing,
                                         std::optional<double> memory_available_mb) override {
    RETURN_IF_ERROR(Maybe("ClaimNext"));
    return target_->ClaimNext(worker_id, lease_ms, max_processing, memory_available_mb);
  }
  Status RecordEstimate(const std::string& id, const std::string& token,
                        const JobEstimate& estimate) override {
    RETURN_IF_ERROR(Maybe("RecordEstimate"));
    return target_->RecordEstimate(id, token, estimate);
  }
  Status DeferJob(const std::string& id, const std::string& token,
                  const std::string& for_what) override {
    RETURN_IF_ERROR(Maybe("DeferJob"));
    return target_->DeferJob(id, token, for_what);
  }
  Result<std::vector<Video>> ListQueue(int limit) override {
    RETURN_IF_ERROR(Maybe("ListQueue"));
    return target_->ListQueue(limit);
  }
  Status MarkPlayable(const std::string& id, const std::string& token) override {
    RETURN_IF_ERROR(Maybe("MarkPlayable"));
    return target_->MarkPlayable(id, token);
  }
  Status RenewLease(const std::string& id, const std::string& token, int64_t lease_ms,
                    double progress, std::optional<int64_t> eta_seconds) override {
    RETURN_IF_ERROR(Maybe("RenewLease"));
    return target_->RenewLease(id, token, lease_ms, progress, eta_seconds);
  }
  Status CompleteJob(const std::string& id, const std::string& token, const nlohmann::json& source,
                     const nlohmann::json& output, bool original_kept) override {
    RETURN_IF_ERROR(Maybe("CompleteJob"));
    return target_->CompleteJob(id, token, source, output, original_kept);
  }
  Status FailJob(const std::string& id, const std::string& token, const Status& error,
                 std::optional<int64_t> retry_at_ms) override {
    RETURN_IF_ERROR(Maybe("FailJob"));
    return target_->FailJob(id, token, error, retry_at_ms);
  }
  Status ReleaseJob(const std::string& id, const std::string& token) override {
    RETURN_IF_ERROR(Maybe("ReleaseJob"));
    return target_->ReleaseJob(id, token);
  }
  Result<int> RecoverExpiredLeases(int max_attempts) override {
    RETURN_IF_ERROR(Maybe("RecoverExpiredLeases"));
    return target_->RecoverExpiredLeases(max_attempts);
  }
  Status RetryVideo(const std::string& id) override {
    RETURN_IF_ERROR(Maybe("RetryVideo"));
    return target_->RetryVideo(id);
  }
  Status DeleteVideo(const std::string& id) override {
    RETURN_IF_ERROR(Maybe("DeleteVideo"));
    return target_->DeleteVideo(id);
  }
  // Never fails: it reports no error (an outage shows on the claim that follows).
  Status CreateDirectUpload(const Video& video, const DirectUpload& upload) override {
    RETURN_IF_ERROR(Maybe("CreateDirectUpload"));
    return target_->CreateDirectUpload(video, upload);
  }
  Result<DirectUpload> GetDirectUpload(const std::string& video_id) override {
    RETURN_IF_ERROR(Maybe("GetDirectUpload"));
    return target_->GetDirectUpload(video_id);
  }
  Result<bool> ConsumeDirectUpload(const std::string& video_id) override {
    RETURN_IF_ERROR(Maybe("ConsumeDirectUpload"));
    return target_->ConsumeDirectUpload(video_id);
  }
  Status StartDirectUpload(const std::string& video_id, const std::string& filename,
                           int64_t size_bytes) override {
    RETURN_IF_ERROR(Maybe("StartDirectUpload"));
    return target_->StartDirectUpload(video_id, filename, size_bytes);
  }
  Result<std::vector<std::string>> ListExpiredDirectUploads(int64_t used_grace_ms,
                                                            int limit) override {
    RETURN_IF_ERROR(Maybe("ListExpiredDirectUploads"));
    return target_->ListExpiredDirectUploads(used_grace_ms, limit);
  }
  bool WaitForJobs(int64_t timeout_ms) override { return target_->WaitForJobs(timeout_ms); }

  Status Heartbeat(const WorkerInfo& worker) override {
    RETURN_IF_ERROR(Maybe("Heartbeat"));
    return target_->Heartbeat(worker);
  }
  Result<std::vector<WorkerInfo>> ListWorkers(int64_t seen_within_ms) override {
    RETURN_IF_ERROR(Maybe("ListWorkers"));
    return target_->ListWorkers(seen_within_ms);
  }
  Status RemoveWorker(const std::string& id) override {
    RETURN_IF_ERROR(Maybe("RemoveWorker"));
    return target_->RemoveWorker(id);
  }

  void EnableWebhookOutbox(bool enabled) override { target_->EnableWebhookOutbox(enabled); }
  Result<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(int limit,
                                                              int64_t lease_ms) override {
    RETURN_IF_ERROR(Maybe("ClaimWebhookDeliveries"));
    return target_->ClaimWebhookDeliveries(limit, lease_ms);
  }
  Status MarkWebhookDelivered(int64_t id, const std::string& lease_token) override {
    RETURN_IF_ERROR(Maybe("MarkWebhookDelivered"));
    return target_->MarkWebhookDelivered(id, lease_token);
  }
  Status RecordWebhookFailure(int64_t id, const std::string& lease_token, int64_t next_attempt_ms,
                              const std::string& error) override {
    RETURN_IF_ERROR(Maybe("RecordWebhookFailure"));
    return target_->RecordWebhookFailure(id, lease_token, next_attempt_ms, error);
  }
  Status GiveUpWebhook(int64_t id, const std::string& lease_token,
                       const std::string& error) override {
    RETURN_IF_ERROR(Maybe("GiveUpWebhook"));
    return target_->GiveUpWebhook(id, lease_token, error);
  }
  Result<WebhookBacklog> CountWebhookBacklog() override {
    RETURN_IF_ERROR(Maybe("CountWebhookBacklog"));
    return target_->CountWebhookBacklog();
  }

 private:
  struct Rule {
    int skip = 0;       // calls that still pass before the failures
    int remaining = 0;  // failures still to inject
    ErrorCode code = ErrorCode::kDatabaseError;
    bool throws = false;
  };

  // The injected error for this call of `op`, or OK to forward it.
  Status Maybe(const char* op) {
    std::lock_guard lock(mutex_);
    ++calls_[op];
    for (const char* key : {op, "*"}) {
      auto it = rules_.find(key);
      if (it == rules_.end() || it->second.remaining <= 0) continue;
      Rule& rule = it->second;
      if (rule.skip > 0) {
        --rule.skip;
        continue;
      }
      --rule.remaining;
      ++injected_;
      if (rule.throws) throw std::runtime_error(std::string("injected exception in ") + op);
      return Status(rule.code, std::string("injected failure of ") + op);
    }
    return Status::Ok();
  }

  JobStore* target_;
  mutable std::mutex mutex_;
  std::map<std::string, Rule> rules_;  // GUARDED_BY(mutex_), by method name or "*"
  std::map<std::string, int> calls_;   // GUARDED_BY(mutex_)
  std::atomic<int> injected_{0};
};

}  // namespace vidproc::queue
