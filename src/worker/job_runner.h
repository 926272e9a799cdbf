// Runs one claimed job end to end: the original from storage, `vidproc transcode` as a sandboxed
// child, the outputs into storage under fixed keys, the result recorded under the job's lease,
// the original deleted. One Deadline of `timeout_ms`, started when the job starts, covers the
// download and the child: the child is stopped when it runs out, and a job out of time before the
// upload fails with `timeout`. An upload begun in time is finished (stopping it would leave
// objects behind). Every step is idempotent (fixed keys, lease-checked
// completion), so re-running a job after a crash at any point ends in the same state.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/deadline.h"
#include "core/ids.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"
#include "worker/admission.h"
#include "worker/child_process.h"
#include "worker/live_hls.h"
#include "worker/memory_budget.h"

namespace vidproc::worker {

struct WorkerSettings {
  std::string worker_id;
  std::string transcoder_path;  // the vidproc binary run as `transcode`
  std::string scratch_dir;      // per-job directories are made below it
  int max_tasks = 2;
  // The CPUs of the machine or its cgroup quota (AvailableCores): what the jobs' threads share
  // (ThreadsForJob, per claim) and the CPU safety net's multiplier.
  int machine_cores = 1;
  int64_t timeout_ms = 600'000;  // from the job's start to its upload (see above)
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
  int max_fps = 60;
  // VIDPROC_MEMORY_BUDGET_MB, or its default from the machine (memory_budget.h): what the jobs'
  // predicted peaks may add up to.
  double memory_budget_mb = 1536;
  // The model predictions come from: media::CostModel::Builtin() when null (tests give their own).
  const media::CostModel* cost_model = nullptr;
  ChildLimits limits;  // cpu_ms is set per job by JobRunner (CpuSafetyNetMs)
  // Layers of the child's sandbox left out (sandbox.h): "" for all of them, or a comma list of
  // network, files, syscalls (checked when the configuration is loaded).
  std::string sandbox_skip;
  // VIDPROC_OUTPUTS: the progressive MP4, HLS from the same encode (published while the job
  // runs, storage/hls_publication.h), or both.
  bool mp4 = true;
  bool hls = true;
  std::string renditions;  // VIDPROC_RENDITIONS, as the child's --renditions ("" for none)
  std::string log_level = "info";
  std::string log_format = "text";
  struct Import {
    int64_t max_bytes = 0;  // MAX_UPLOAD_BYTES: a source URL's original is capped like an upload
    std::vector<std::string> allowed_hosts;  // VIDPROC_IMPORT_ALLOWED_HOSTS
    bool source_keys = false;  // the store is the platform's bucket: source keys may be read
  } import;
};

// The child's RLIMIT_CPU: a safety net that cannot fire before the deadline does. A process cannot
// use more CPU time than `cores` x wall time, so the rest of the deadline plus the kill grace, on
// every core, plus a margin, is never reached by a child that the deadline stops first.
int64_t CpuSafetyNetMs(int64_t remaining_ms, int64_t kill_grace_ms, int cores);

// What became of a job, for logs and tests. kDeferred: back in the queue, waiting for memory.
enum class JobOutcome { kReady, kFailed, kRetrying, kReleased, kLost, kDeferred };

class JobRunner {
 public:
  // `store`, `blobs` and `clock` must outlive the runner; the settings are copied.
  JobRunner(queue::JobStore* store, storage::BlobStore* blobs, WorkerSettings settings,
            const Clock* clock)
      : store_(store),
        blobs_(blobs),
        settings_(std::move(settings)),
        clock_(clock),
        ledger_(settings_.memory_budget_mb),
        host_(HostName()),
        child_options_(ChildOptions(settings_)) {}

  // The most memory a job may be predicted to need to be claimed now (ClaimNext), or nullopt
  // while no job runs on this machine (any job may start alone).
  std::optional<double> MemoryAvailableMb() const {
    return ledger_.AvailableMb(PeersOnThisMachine());
  }

  // Runs the child with `threads` (the job's budget, ThreadsForJob). `stop` asks for a graceful
  // stop: the child is stopped and the job released for another worker. Blocks until the job is
  // finished one way or another.
  JobOutcome Run(const queue::Claim& claim, int threads, const std::atomic<bool>& stop);
  // Fails the claimed job for good with kInternal and `error`'s text: for a job whose run threw
  // (a job that fails that way would throw again on every retry).
  JobOutcome Quarantine(const queue::Claim& claim, const Status& error);

 private:
  struct ChildResult;
  ChildResult RunChild(const queue::Claim& claim, const std::string& input,
                       const std::string& job_dir, const JobSettings& job, const Deadline& deadline,
                       const std::atomic<bool>& stop, LiveHls* live);
  JobOutcome TimedOut(const queue::Claim& claim, const std::string& during);
  JobOutcome Fail(const queue::Claim& claim, const Status& error, bool transient);
  // `live` (null without HLS) is stopped; its publication is finished here, or withdrawn when
  // storing fails.
  JobOutcome Store(const queue::Claim& claim, const std::string& job_dir, int threads,
                   const nlohmann::json& admission, const nlohmann::json& summary,
                   const std::string& input, bool original_stored, LiveHls* live);
  // The admission of a claimed job whose original is at `input` (admission.h): probed in a
  // sandboxed child, its memory booked in the ledger (released by the caller) and its settings
  // fitted to the time left. `outcome` is set when the job ended here: deferred for memory, or
  // refused (would_exceed_timeout). Without a probe (it failed: the transcoder will say why),
  // the configured settings and no prediction.
  struct Admitted {
    JobSettings settings;
    std::optional<Fit> fit;
    std::optional<JobOutcome> outcome;
  };
  Admitted Admit(const queue::Claim& claim, const std::string& input, int threads,
                 const Deadline& deadline);
  // The jobs other workers of this machine (same host in the registry) are running.
  MachinePeers PeersOnThisMachine() const;
  // `vidproc probe --sandbox` on `input`: the probe's JSON, or why not.
  Result<nlohmann::json> ProbeInChild(const std::string& input, const Deadline& deadline);

  // The job's original as a local file: the stored upload, or an import's source, fetched from
  // its URL or read from the bucket (and then stored as the video's original, as an upload is).
  struct Original {
    std::string path;
    bool stored = false;                // under storage::OriginalKey (not only the source's)
    std::optional<JobOutcome> outcome;  // set when the job ended here
  };
  Original GetOriginal(const queue::Claim& claim, const std::string& job_dir,
                       const Deadline& deadline, const std::atomic<bool>& stop);
  Original Import(const queue::Claim& claim, const std::string& job_dir, const Deadline& deadline,
                  const std::atomic<bool>& stop);
  // Runs `work` on a thread of its own while this one renews the job's lease (a fetch can take
  // longer than a lease) and watches the deadline, `stop` and the lease: any of them sets the
  // `cancel` flag `work` is given. The work's status, or the outcome that ended the job.
  struct Leased {
    Status status;
    std::optional<JobOutcome> outcome;
  };
  Leased WhileLeased(const queue::Claim& claim, const Deadline& deadline,
                     const std::atomic<bool>& stop, const std::string& during,
                     const std::function<Status(const std::atomic<bool>& cancel)>& work);

  queue::JobStore* store_;
  storage::BlobStore* blobs_;
  const WorkerSettings settings_;
  const Clock* clock_;
  MemoryLedger ledger_;     // the running jobs' predicted memory, against memory_budget_mb
  const std::string host_;  // HostName(): how the machine's other workers are found
  // The settings the child gets, as the engine reads them: what a job's cost is predicted for.
  static media::TranscodeOptions ChildOptions(const WorkerSettings& settings);
  const media::TranscodeOptions child_options_;
};

}  // namespace vidproc::worker
