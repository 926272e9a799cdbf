#include "worker/worker_pool.h"

#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/loop_guard.h"
#include "core/version.h"
#include "worker/thread_budget.h"

namespace vidproc::worker {
namespace {

constexpr int64_t kIdlePollMs = 1000;
constexpr int64_t kStatusLogMs = 60'000;
// The longest wait of a slot after failures in a row (a database that stays down).
constexpr int64_t kMaxBackoffMs = 30'000;

}  // namespace

WorkerPool::WorkerPool(queue::JobStore* store, storage::BlobStore* blobs, WorkerSettings settings,
                       const Clock* clock)
    : store_(store),
      blobs_(blobs),
      settings_(std::move(settings)),
      clock_(clock),
      runner_(store_, blobs_, settings_, clock_) {}

WorkerPool::~WorkerPool() {
  if (!threads_.empty()) Stop(0);
}

void WorkerPool::Start() {
  LogInfo("worker started", {{"worker", settings_.worker_id},
                             {"slots", settings_.max_tasks},
                             {"cores", settings_.machine_cores},
                             {"timeout_s", settings_.timeout_ms / 1000}});
  threads_.emplace_back([this] { HousekeepingLoop(); });
  for (int i = 0; i < settings_.max_tasks; ++i) threads_.emplace_back([this, i] { SlotLoop(i); });
}

void WorkerPool::Stop(int64_t grace_ms) {
  stopping_ = true;
  Notify();
  // Give running jobs the grace period, then tell them to stop (their jobs are released).
  std::thread killer([this, grace_ms] {
    std::unique_lock lock(mutex_);
    clock_->WaitFor(wake_, lock, grace_ms, [this] { return abort_jobs_.load(); });
    abort_jobs_ = true;
  });
  for (size_t i = 1; i < threads_.size(); ++i) threads_[i].join();  // the slots
  {
    std::lock_guard lock(mutex_);
    abort_jobs_ = true;
  }
  wake_.notify_all();
  killer.join();
  threads_[0].join();  // housekeeping
  threads_.clear();
  (void)store_->RemoveWorker(settings_.worker_id);
  LogInfo("worker stopped", {{"worker", settings_.worker_id}});
}

void WorkerPool::Notify() {
  std::lock_guard lock(mutex_);
  wake_.notify_all();
}

bool WorkerPool::SleepUnlessWoken(int64_t ms) {
  std::unique_lock lock(mutex_);
  return clock_->WaitFor(wake_, lock, ms, [this] { return stopping_.load(); });
}

void WorkerPool::SlotLoop(int slot) {
  LoopGuard guard("worker slot", {.first_ms = kIdlePollMs, .max_ms = kMaxBackoffMs});
  while (!stopping_) {
    Status s = guard.Run([this, slot] { return ClaimAndRun(slot); },
                         {{"worker", settings_.worker_id}, {"slot", slot}});
    if (!s.ok()) SleepUnlessWoken(guard.delay_ms());
  }
}

Status WorkerPool::ClaimAndRun(int slot) {
  // Jobs already predicted to need more memory than the running ones leave are passed over
  // (they wait, `waiting_for` memory); a job not probed yet is claimed and admitted by its probe.
  auto claim = store_->ClaimNext(settings_.worker_id, settings_.lease_ms, settings_.max_tasks,
                                 runner_.MemoryAvailableMb());
  if (!claim.ok()) return claim.status();
  if (!claim.value()) {
    // Woken at once by stores that notify (PostgreSQL LISTEN/NOTIFY); a poll otherwise.
    store_->WaitForJobs(kIdlePollMs);
    return Status::Ok();
  }
  const queue::Claim& job = *claim.value();
  if (claim_observer_) claim_observer_(static_cast<double>(job.waited_ms) / 1000.0);
  // Counted from the claim to the end of the run, so that a job claimed meanwhile by another slot
  // sees this one.
  struct Running {
    std::atomic<int>& count;
    int before = count.fetch_add(1);
    ~Running() { count.fetch_sub(1); }
  } running{jobs_running_};
  const int threads = ThreadsForJob(settings_.machine_cores, running.before);
  int64_t started_ms = clock_->MonotonicMs();
  JobOutcome outcome = JobOutcome::kLost;
  // A job whose run throws would throw again on every retry: it is failed for good with the
  // reason, and the slot goes on with the next one.
  Status run = GuardRecord("job", {{"video", job.video.id}, {"slot", slot}}, [&] {
    outcome = runner_.Run(job, threads, abort_jobs_);
    return Status::Ok();
  });
  if (!run.ok()) outcome = runner_.Quarantine(job, run);
  outcomes_[static_cast<int>(outcome)]++;
  // A deferred job did no work: it is not a job's duration.
  if (observer_ && outcome != JobOutcome::kDeferred) {
    observer_(outcome, (clock_->MonotonicMs() - started_ms) / 1000.0);
  }
  return Status::Ok();
}

Status WorkerPool::Housekeeping(const queue::WorkerInfo& me, int64_t* last_status_ms) {
  Status result = store_->Heartbeat(me);
  if (!result.ok()) {
    LogWarning("cannot report to the worker registry", {{"reason", result.message()}});
  }
  auto recovered = store_->RecoverExpiredLeases(settings_.max_attempts);
  if (!recovered.ok()) {
    result = recovered.status();
  } else if (recovered.value() > 0) {
    LogWarning("jobs of stopped workers put back in the queue", {{"count", recovered.value()}});
  }
  int64_t now_ms = clock_->MonotonicMs();
  if (now_ms - *last_status_ms >= kStatusLogMs) {
    *last_status_ms = now_ms;
    if (auto c = store_->Counts(); c.ok()) {
      LogInfo("queue: " + std::to_string(c->queued) + " queued, " + std::to_string(c->processing) +
              "/" + std::to_string(settings_.max_tasks) + " processing, " +
              std::to_string(c->failed) + " failed");
    }
  }
  return result;
}

void WorkerPool::HousekeepingLoop() {
  const int64_t interval_ms = std::min<int64_t>(settings_.lease_ms / 2, 5000);
  LoopGuard guard("worker housekeeping", {.first_ms = interval_ms, .max_ms = 4 * interval_ms});
  int64_t last_status_ms = clock_->MonotonicMs() - kStatusLogMs;
  queue::WorkerInfo me{
      settings_.worker_id, HostName(), static_cast<int>(getpid()), settings_.max_tasks, kVersion,
      clock_->NowMs(),     0};
  while (!stopping_) {
    (void)guard.Run([&] { return Housekeeping(me, &last_status_ms); },
                    {{"worker", settings_.worker_id}});
    SleepUnlessWoken(guard.failures() ? guard.delay_ms() : interval_ms);
  }
}

}  // namespace vidproc::worker
