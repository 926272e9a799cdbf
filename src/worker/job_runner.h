// Runs one claimed job end to end: the original from storage, `vidproc transcode` as a sandboxed
// child with a timeout, the outputs into storage under fixed keys, the result recorded under the
// job's lease, the original deleted. Every step is idempotent (fixed keys, lease-checked
// completion), so re-running a job after a crash at any point ends in the same state.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/clock.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"
#include "worker/child_process.h"

namespace vidproc::worker {

struct WorkerSettings {
  std::string worker_id;
  std::string transcoder_path;  // the vidproc binary run as `transcode`
  std::string scratch_dir;      // per-job directories are made below it
  int max_tasks = 2;
  int threads_per_job = 1;
  int64_t timeout_ms = 600'000;
  int64_t kill_grace_ms = 5'000;
  int64_t lease_ms = 30'000;
  int64_t progress_interval_ms = 1'000;  // lease renewal and progress records at most this often
  int max_attempts = 3;
  int timeout_retries = 0;
  int64_t retry_backoff_ms = 15'000;
  bool keep_original = false;
  std::string preset = "veryfast";
  std::string video_bitrate = "1500k";
  std::string max_size = "1280x720";
  ChildLimits limits;
  std::string log_level = "info";
  std::string log_format = "text";
};

// What became of a job, for logs and tests.
enum class JobOutcome { kReady, kFailed, kRetrying, kReleased, kLost };

class JobRunner {
 public:
  JobRunner(queue::JobStore* store, storage::BlobStore* blobs, const WorkerSettings& settings,
            const Clock* clock)
      : store_(store), blobs_(blobs), settings_(settings), clock_(clock) {}

  // `stop` asks for a graceful stop: the child is stopped and the job released for another
  // worker. Blocks until the job is finished one way or another.
  JobOutcome Run(const queue::Claim& claim, const std::atomic<bool>& stop);

 private:
  struct ChildResult;
  ChildResult RunChild(const queue::Claim& claim, const std::string& input,
                       const std::string& job_dir, const std::atomic<bool>& stop);
  JobOutcome Fail(const queue::Claim& claim, const Status& error, bool transient);
  JobOutcome Store(const queue::Claim& claim, const std::string& job_dir,
                   const nlohmann::json& summary);

  queue::JobStore* store_;
  storage::BlobStore* blobs_;
  const WorkerSettings& settings_;
  const Clock* clock_;
};

}  // namespace vidproc::worker
