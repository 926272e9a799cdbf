// Database errors in the middle of a job (queue::FaultInjectingJobStore in front of a real
// SQLite store): whatever call fails, the job ends ready, queued for a retry, failed as designed,
// or left to lease recovery, which puts it back in the queue. It is never stuck in processing
// past its lease, and never gone. The transcoder is a stand-in script (a real child process, so
// the renewal loop runs as in production) that waits on a FIFO for the test's word instead of
// for a duration.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "queue/fault_injecting_job_store.h"
#include "worker/job_runner.h"
#include "worker/worker_pool.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;
using queue::VideoStatus;

constexpr int64_t kLeaseMs = 1'000;

class JobStoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    store_ = queue::SqliteStore::Open(dir_ + "/jobs.db", &clock_).value();
    faulty_ = std::make_unique<queue::FaultInjectingJobStore>(store_.get());
    blobs_ = storage::LocalStore::Open(dir_ + "/storage").value();
    gate_ = dir_ + "/gate";
    ASSERT_EQ(mkfifo(gate_.c_str(), 0600), 0);
    settings_.worker_id = "fault-worker";
    settings_.transcoder_path = dir_ + "/transcode.sh";
    settings_.scratch_dir = dir_ + "/scratch";
    settings_.max_tasks = 1;
    settings_.lease_ms = kLeaseMs;
    settings_.progress_interval_ms = 0;  // renew on every pass of the child loop
    settings_.retry_backoff_ms = 0;
    settings_.kill_grace_ms = 1'000;
    WriteTranscoder(/*wait_for_gate=*/false, /*refuse=*/false);
    runner_ = std::make_unique<JobRunner>(faulty_.get(), blobs_.get(), settings_, &clock_);
  }
  void TearDown() override {
    if (job_.joinable()) Finish();  // a child still waiting must not outlive the test
    pool_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // The stand-in for `vidproc transcode <in> <out> --thumbnail <thumb> ...`: one progress line,
  // then (if told to) a wait for a line on the gate, then the outputs and a done event, or a
  // refusal of the input.
  void WriteTranscoder(bool wait_for_gate, bool refuse) {
    std::ofstream script(settings_.transcoder_path);
    // `vidproc probe` (the admission's) fails: the job runs with the configured settings.
    script << "#!/bin/sh\n"
           << "[ \"$1\" = probe ] && exit 3\n"
           << "echo '{\"event\":\"progress\",\"progress\":0.5}'\n";
    if (wait_for_gate) script << "read line < '" << gate_ << "'\n";
    if (refuse) {
      script << "echo '{\"event\":\"error\",\"error\":{\"code\":\"corrupt_input\","
                "\"message\":\"not a video\"}}'\nexit 1\n";
    } else {
      script << "printf mp4 > \"$3\"\nprintf jpg > \"$5\"\n"
             << "echo '{\"event\":\"done\",\"source\":{\"container\":\"mov\"},"
                "\"output\":{\"width\":2}}'\n";
    }
    script.close();
    chmod(settings_.transcoder_path.c_str(), 0700);
  }

  // Gives the child waiting on the gate its word, once it waits there (an open for writing
  // succeeds only while a reader has it open); gives up when the job has ended without it.
  void OpenGate() {
    WaitFor(
        [&] {
          int fd = open(gate_.c_str(), O_WRONLY | O_NONBLOCK);
          if (fd < 0) return job_done_.load();
          ssize_t written = write(fd, "go\n", 3);
          close(fd);
          return written == 3;
        },
        30'000);
  }

  std::string Enqueue() {
    std::string original = dir_ + "/original";
    std::ofstream(original) << "not really a video";
    return EnqueueFile(store_.get(), blobs_.get(), original, "clip.mov");
  }

  queue::Claim ClaimOne() {
    auto claim = store_->ClaimNext(settings_.worker_id, kLeaseMs, 10, std::nullopt);
    EXPECT_TRUE(claim.ok() && claim.value().has_value());
    return claim.ok() && claim.value() ? *claim.value() : queue::Claim{};
  }

  JobOutcome RunOnce() {
    std::atomic<bool> stop{false};
    return runner_->Run(ClaimOne(), 1, stop);
  }

  // Runs a claim on a thread (the child waits on the gate); Finish() returns the outcome.
  void StartJob(const std::atomic<bool>* stop = nullptr) {
    job_done_ = false;
    job_ = std::thread([this, claim = ClaimOne(), stop] {
      outcome_ = runner_->Run(claim, 1, stop ? *stop : no_stop_);
      job_done_ = true;
    });
  }
  JobOutcome Finish() {
    OpenGate();
    job_.join();
    return outcome_;
  }

  // What lease recovery does once the lease has run out: the clock moves past it.
  int RecoverAfterLeaseExpiry() {
    clock_.Advance(kLeaseMs + 1);
    auto moved = store_->RecoverExpiredLeases(settings_.max_attempts);
    EXPECT_TRUE(moved.ok());
    return moved.ok() ? moved.value() : -1;
  }

  queue::Video Get(const std::string& id) { return store_->GetVideo(id).value(); }

  std::string dir_;
  std::string gate_;
  ManualClock clock_;
  std::unique_ptr<queue::SqliteStore> store_;
  std::unique_ptr<queue::FaultInjectingJobStore> faulty_;
  std::unique_ptr<storage::LocalStore> blobs_;
  WorkerSettings settings_;
  std::unique_ptr<JobRunner> runner_;
  std::unique_ptr<WorkerPool> pool_;
  std::thread job_;
  std::atomic<bool> no_stop_{false};
  std::atomic<bool> job_done_{false};
  JobOutcome outcome_ = JobOutcome::kLost;
};

TEST_F(JobStoreFaultTest, FailingRenewalsDoNotStopAJobWhoseLeaseHolds) {
  WriteTranscoder(/*wait_for_gate=*/true, false);
  std::string id = Enqueue();
  faulty_->FailNext("RenewLease", 1'000'000);
  StartJob();
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls("RenewLease") >= 3; }, 30'000));
  EXPECT_EQ(Finish(), JobOutcome::kReady);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, VideoStatus::kReady);
  EXPECT_EQ(v.output["width"], 2);
  EXPECT_GE(faulty_->injected(), 3);
}

TEST_F(JobStoreFaultTest, AJobWhoseLeaseRunsOutDuringAnOutageGoesBackToTheQueue) {
  WriteTranscoder(/*wait_for_gate=*/true, false);
  std::string id = Enqueue();
  faulty_->FailNext("RenewLease", 1'000'000);
  StartJob();
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls("RenewLease") >= 1; }, 30'000));
  EXPECT_EQ(RecoverAfterLeaseExpiry(), 1);
  // The stale worker's result is refused: the job is the queue's again, not this worker's.
  EXPECT_EQ(Finish(), JobOutcome::kLost);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, VideoStatus::kQueued);
  EXPECT_TRUE(v.has_original);
  faulty_->FailNext("RenewLease", 0);
  WriteTranscoder(false, false);
  EXPECT_EQ(RunOnce(), JobOutcome::kReady);
  EXPECT_EQ(Get(id).status, VideoStatus::kReady);
  EXPECT_EQ(Get(id).attempts, 2);
}

TEST_F(JobStoreFaultTest, AFailedCompletionIsRetried) {
  std::string id = Enqueue();
  faulty_->FailNext("CompleteJob", 1);
  EXPECT_EQ(RunOnce(), JobOutcome::kRetrying);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, VideoStatus::kQueued);
  EXPECT_EQ(v.error_code, "database_error");
  EXPECT_TRUE(v.has_original) << "the original must survive until the result is recorded";
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
  EXPECT_EQ(RunOnce(), JobOutcome::kReady);
  EXPECT_EQ(Get(id).status, VideoStatus::kReady);
  EXPECT_EQ(Get(id).attempts, 2);
}

TEST_F(JobStoreFaultTest, AFailedCompletionOnTheLastAttemptFailsTheVideoForARetry) {
  settings_.max_attempts = 1;
  runner_ = std::make_unique<JobRunner>(faulty_.get(), blobs_.get(), settings_, &clock_);
  std::string id = Enqueue();
  faulty_->FailNext("CompleteJob", 1);
  EXPECT_EQ(RunOnce(), JobOutcome::kFailed);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "database_error");
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
  ASSERT_TRUE(store_->RetryVideo(id).ok());
  EXPECT_EQ(RunOnce(), JobOutcome::kReady);
}

TEST_F(JobStoreFaultTest, WhenNeitherResultNorFailureCanBeRecordedLeaseRecoveryRequeues) {
  std::string id = Enqueue();
  faulty_->FailNext("CompleteJob", 1);
  faulty_->FailNext("FailJob", 1);
  EXPECT_EQ(RunOnce(), JobOutcome::kLost);
  EXPECT_EQ(Get(id).status, VideoStatus::kProcessing) << "held until its lease runs out";
  EXPECT_EQ(RecoverAfterLeaseExpiry(), 1);
  EXPECT_EQ(Get(id).status, VideoStatus::kQueued);
  EXPECT_EQ(RunOnce(), JobOutcome::kReady);
  EXPECT_EQ(Get(id).status, VideoStatus::kReady);
}

TEST_F(JobStoreFaultTest, AnUnrecordedRefusalIsRecordedOnTheNextAttempt) {
  WriteTranscoder(false, /*refuse=*/true);
  std::string id = Enqueue();
  faulty_->FailNext("FailJob", 1);
  EXPECT_EQ(RunOnce(), JobOutcome::kLost);
  EXPECT_EQ(Get(id).status, VideoStatus::kProcessing);
  EXPECT_EQ(RecoverAfterLeaseExpiry(), 1);
  EXPECT_EQ(RunOnce(), JobOutcome::kFailed);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "corrupt_input");
}

TEST_F(JobStoreFaultTest, AJobThatCannotBeReleasedOnStopIsRecovered) {
  WriteTranscoder(/*wait_for_gate=*/true, false);
  std::string id = Enqueue();
  faulty_->FailNext("ReleaseJob", 1);
  std::atomic<bool> stop{true};  // stop as soon as the child runs
  StartJob(&stop);
  job_.join();  // the child is stopped by signal: no word on the gate needed
  EXPECT_EQ(outcome_, JobOutcome::kLost);
  EXPECT_EQ(Get(id).status, VideoStatus::kProcessing);
  EXPECT_EQ(RecoverAfterLeaseExpiry(), 1);
  EXPECT_EQ(Get(id).status, VideoStatus::kQueued);
}

// The whole worker: a completion lost to the database and a failure that cannot be recorded
// either; the pool's own lease recovery brings the job back and it ends ready.
TEST_F(JobStoreFaultTest, ThePoolFinishesAJobThroughADatabaseOutage) {
  std::string id = Enqueue();
  faulty_->FailNext("CompleteJob", 1);
  faulty_->FailNext("FailJob", 1);
  pool_ = std::make_unique<WorkerPool>(faulty_.get(), blobs_.get(), settings_, &clock_);
  pool_->Start();
  ASSERT_TRUE(WaitFor([&] { return pool_->finished(JobOutcome::kLost) == 1; }, 30'000));
  EXPECT_EQ(Get(id).status, VideoStatus::kProcessing);
  clock_.Advance(kLeaseMs + 1);  // the housekeeping thread recovers it on its next round
  ASSERT_TRUE(WaitFor([&] { return Get(id).status == VideoStatus::kReady; }, 30'000))
      << "status " << queue::StatusName(Get(id).status);
  EXPECT_EQ(Get(id).attempts, 2);
  pool_->Stop(0);
}

}  // namespace
}  // namespace vidproc::worker
