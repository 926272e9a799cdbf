// MAX_VIDEO_PROCESSING_TASKS slots, each a thread that claims a job from the store and runs it.
// The cap is the store's (ClaimNext counts running jobs), so it holds across processes sharing the
// database too. Each job's threads are decided when its slot claims it, from the cores and the
// jobs running here at that moment (ThreadsForJob). A housekeeping thread puts jobs of dead workers
// back in the queue and logs the queue's state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "worker/job_runner.h"

namespace vidproc::worker {

class WorkerPool {
 public:
  WorkerPool(queue::JobStore* store, storage::BlobStore* blobs, WorkerSettings settings,
             const Clock* clock);
  ~WorkerPool();  // Stop(0) if still running

  // Called from the slot threads after each job with its outcome and wall time (metrics). Set
  // before Start.
  void SetObserver(std::function<void(JobOutcome, double seconds)> observer) {
    observer_ = std::move(observer);
  }
  // Called from the slot threads when a slot claims a job, with how long the job waited for a
  // worker (queue::Claim::waited_ms) in seconds (metrics). Set before Start.
  void SetClaimObserver(std::function<void(double waited_seconds)> observer) {
    claim_observer_ = std::move(observer);
  }
  void Start();
  // Stops claiming; running jobs get `grace_ms` to finish, then their children are stopped and
  // the jobs released to the queue. Returns when every slot has ended.
  void Stop(int64_t grace_ms);
  // Jobs finished since Start, by outcome (for logs and tests).
  int64_t finished(JobOutcome outcome) const { return outcomes_[static_cast<int>(outcome)]; }

 private:
  // Each loop runs its iterations under a LoopGuard (core/loop_guard.h): no exception ends a
  // thread, and a job whose run throws is quarantined (JobRunner::Quarantine).
  void SlotLoop(int slot);
  Status ClaimAndRun(int slot);
  void HousekeepingLoop();
  Status Housekeeping(const queue::WorkerInfo& me, int64_t* last_status_ms);
  bool SleepUnlessWoken(int64_t ms);
  // Wakes the housekeeping thread (on Stop).
  void Notify();

  queue::JobStore* store_;
  storage::BlobStore* blobs_;
  const WorkerSettings settings_;
  const Clock* clock_;
  JobRunner runner_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};    // no more claims
  std::atomic<bool> abort_jobs_{false};  // running jobs must stop now
  std::atomic<int> jobs_running_{0};     // on this worker: what a new job's threads depend on
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int64_t> outcomes_[6] = {};
  std::function<void(JobOutcome, double)> observer_;
  std::function<void(double)> claim_observer_;
};

}  // namespace vidproc::worker
