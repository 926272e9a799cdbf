// JobRunner's one deadline, on a ManualClock: it covers the download as well as the child, the
// child is stopped when it runs out, and a child killed by the CPU safety net is a timeout too.
#include "worker/job_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "media/input_file.h"
#include "media/probe.h"
#include "storage/fault_injecting_store.h"
#include "support/shell.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

// Remote storage whose every download takes `download_ms` of the clock.
class SlowRemoteStore : public storage::FaultInjectingStore {
 public:
  SlowRemoteStore(BlobStore* target, ManualClock* clock, int64_t download_ms)
      : FaultInjectingStore(target), clock_(clock), download_ms_(download_ms) {}
  Status GetFile(const std::string& key, const std::string& path) override {
    ++downloads;
    clock_->Advance(download_ms_);
    return FaultInjectingStore::GetFile(key, path);
  }
  std::optional<std::string> LocalPathFor(const std::string&) override { return std::nullopt; }
  int downloads = 0;

 private:
  ManualClock* clock_;
  int64_t download_ms_;
};

class JobRunnerTest : public JobRunnerFixture {
 protected:
  void SetUp() override {
    JobRunnerFixture::SetUp();
    settings_.timeout_ms = 60'000;
    settings_.kill_grace_ms = 1'000;
  }

  queue::Claim Claim(const std::string& fixture) {
    EnqueueFile(store_.get(), blobs_.get(), Fixture(fixture), fixture);
    return ClaimNext();
  }

  ManualClock clock_;
};

TEST_F(JobRunnerTest, TheDeadlineCoversTheDownload) {
  SlowRemoteStore remote(blobs_.get(), &clock_, settings_.timeout_ms + 1);
  JobRunner runner(store_.get(), &remote, settings_, &clock_);
  queue::Claim claim = Claim("one_frame.mp4");
  EXPECT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kFailed);
  EXPECT_EQ(remote.downloads, 1);
  queue::Video v = Get(claim.video.id);
  EXPECT_EQ(v.error_code, "timeout") << v.error_message;
  EXPECT_TRUE(ChildrenOf(getpid(), "transcode").empty());
  EXPECT_FALSE(blobs_->Stat(storage::VideoKey(claim.video.id)).value().has_value());
}

TEST_F(JobRunnerTest, TheRestOfTheDeadlineStopsTheChild) {
  settings_.preset = "veryslow";
  // Half the time goes on the download: the child gets the other half, measured from the job's
  // start, not from its own.
  SlowRemoteStore remote(blobs_.get(), &clock_, settings_.timeout_ms / 2);
  JobRunner runner(store_.get(), &remote, settings_, &clock_);
  queue::Claim claim = Claim("landscape_1080p.mp4");
  std::atomic<int> outcome{-1};
  std::thread job([&] { outcome = static_cast<int>(runner.Run(claim, 1, stop_)); });
  ASSERT_TRUE(WaitFor([&] { return !ChildrenOf(getpid(), "transcode").empty(); }, 30'000));
  // Were the deadline the child's own, it would have half of it left now, and run on.
  clock_.Advance(settings_.timeout_ms / 2);
  ASSERT_TRUE(WaitFor([&] { return outcome != -1; }, 30'000));
  job.join();
  EXPECT_EQ(outcome.load(), static_cast<int>(JobOutcome::kFailed));
  queue::Video v = Get(claim.video.id);
  EXPECT_EQ(v.error_code, "timeout") << v.error_message;
  EXPECT_EQ(v.attempts, 1);
  EXPECT_TRUE(ChildrenOf(getpid(), "transcode").empty());
}

TEST_F(JobRunnerTest, AChildKilledByTheCpuLimitIsATimeoutNotACrash) {
  // Stands in for a transcoder that used up its RLIMIT_CPU: the kernel's SIGXCPU.
  std::string fake = dir_ + "/cpu-hog";
  std::ofstream(fake) << "#!/bin/sh\nkill -XCPU $$\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  settings_.transcoder_path = fake;
  settings_.max_attempts = 3;
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("one_frame.mp4");
  EXPECT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kFailed) << "timeouts are not retried";
  queue::Video v = Get(claim.video.id);
  EXPECT_EQ(v.error_code, "timeout") << v.error_message;
}

// VIDPROC_MAX_FPS reaches the child: a 120 fps source comes out at the configured cap.
TEST_F(JobRunnerTest, TheFrameRateCapReachesTheTranscoder) {
  settings_.max_fps = 24;
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("fps120.mp4");
  ASSERT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kReady) << Get(claim.video.id).error_message;
  auto path = blobs_->LocalPathFor(storage::VideoKey(claim.video.id));
  ASSERT_TRUE(path.has_value());
  int code = -1;
  const std::string out = vidproc::testing::Shell(
      "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
      "stream=nb_read_frames,r_frame_rate -of csv=p=0 '" +
          *path + "'",
      &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out.substr(0, out.find(',')), "24/1") << out;
  const int frames = std::atoi(out.substr(out.find(',') + 1).c_str());
  EXPECT_NEAR(frames, 72, 2) << "3 s at 24 fps: " << out;
}

TEST(CpuSafetyNetTest, CannotBeReachedBeforeTheDeadlineAndTheKillGraceRunOut) {
  for (int cores : {1, 2, 8, 64}) {
    for (int64_t remaining_ms : {0, 1'500, 600'000}) {
      int64_t most_cpu_before_kill = cores * (remaining_ms + 5'000);
      EXPECT_GT(CpuSafetyNetMs(remaining_ms, 5'000, cores), most_cpu_before_kill)
          << cores << " cores, " << remaining_ms << " ms left";
    }
  }
}

// The child runs sandboxed (sandbox.h): reading the original in place from local storage, or a
// downloaded copy in its scratch directory, and writing its outputs there, is all it needs.
TEST_F(JobRunnerTest, ASandboxedChildReadsItsOriginalInPlaceOrDownloaded) {
  JobRunner local(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim in_place = Claim("one_frame.mp4");
  EXPECT_EQ(local.Run(in_place, 1, stop_), JobOutcome::kReady)
      << Get(in_place.video.id).error_message;

  SlowRemoteStore remote(blobs_.get(), &clock_, 0);
  JobRunner downloading(store_.get(), &remote, settings_, &clock_);
  queue::Claim downloaded = Claim("vp9_opus.webm");
  EXPECT_EQ(downloading.Run(downloaded, 1, stop_), JobOutcome::kReady)
      << Get(downloaded.video.id).error_message;
  EXPECT_EQ(remote.downloads, 1);
}

// The degraded path: a kernel without some layers (here: left out by the setting) still runs jobs.
TEST_F(JobRunnerTest, WithSandboxLayersLeftOutJobsStillRun) {
  settings_.sandbox_skip = "network,files,syscalls";
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("one_frame.mp4");
  EXPECT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kReady) << Get(claim.video.id).error_message;
}

TEST_F(JobRunnerTest, AnOffListCodecFailsAtOnceWithUnsupportedCodec) {
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("qtrle.mov");
  EXPECT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kFailed);
  queue::Video v = Get(claim.video.id);
  EXPECT_EQ(v.error_code, "unsupported_codec") << v.error_message;
  EXPECT_NE(v.error_message.find("qtrle"), std::string::npos) << v.error_message;
}

// Admission (worker/admission.h): the probe and the prediction decide before the transcoder runs.
class AdmissionRunnerTest : public JobRunnerTest {
 protected:
  media::MediaInfo Probe(const std::string& fixture) {
    auto input = media::InputFile::Open(Fixture(fixture), media::InputLimits{}, nullptr);
    EXPECT_TRUE(input.ok()) << input.status().ToString();
    return media::Describe(*input.value());
  }
  double PredictedSeconds(const media::MediaInfo& info, const std::string& preset) {
    media::TranscodeOptions options;
    options.threads = 1;
    options.preset = preset;
    options.max_frame_rate = settings_.max_fps;
    return media::CostModel::Builtin().Predict(info, options, 1).wall_s;
  }
};

TEST_F(AdmissionRunnerTest, AJobPredictedToOverrunItsTimeoutFailsBeforeTheTranscoderStarts) {
  // A model that says every job takes days: the limit is the default 600 s.
  media::CostModel slow = media::CostModel::Builtin();
  slow.cpu[0] += 1e6;
  settings_.cost_model = &slow;
  settings_.timeout_ms = 600'000;
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("landscape_1080p.mp4");
  EXPECT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kFailed);
  queue::Video v = Get(claim.video.id);
  EXPECT_EQ(v.status, queue::VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "would_exceed_timeout") << v.error_message;
  EXPECT_NE(v.error_message.find("VIDEO_PROCESSING_TIMEOUT"), std::string::npos);
  ASSERT_TRUE(v.predicted_seconds.has_value());
  EXPECT_GT(*v.predicted_seconds, 600);
  EXPECT_EQ(v.source.value("container", ""), "mov") << "the probe is kept as the source";
  EXPECT_FALSE(blobs_->Stat(storage::VideoKey(claim.video.id)).value().has_value());
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(claim.video.id)).value().has_value())
      << "a failed job keeps its original";
  EXPECT_TRUE(ChildrenOf(getpid(), "transcode").empty());
}

TEST_F(AdmissionRunnerTest, CheaperSettingsFitAJobToItsTimeAndTheOutputSaysSo) {
  const media::MediaInfo info = Probe("landscape_1080p.mp4");
  const double veryfast = PredictedSeconds(info, "veryfast");
  const double superfast = PredictedSeconds(info, "superfast");
  ASSERT_LT(superfast, veryfast);
  // The manual clock stands still: the whole limit is left when the job is admitted.
  settings_.timeout_ms = static_cast<int64_t>((veryfast + superfast) / 2 / kTimeShareToFit * 1000);
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim claim = Claim("landscape_1080p.mp4");
  ASSERT_EQ(runner.Run(claim, 1, stop_), JobOutcome::kReady) << Get(claim.video.id).error_message;
  queue::Video v = Get(claim.video.id);
  const nlohmann::json& admission = v.output["admission"];
  ASSERT_TRUE(admission.is_object()) << v.output.dump();
  EXPECT_EQ(admission["preset"], "superfast");
  EXPECT_EQ(admission["fitted_to_timeout"], true);
  EXPECT_NE(admission.value("reason", "").find("VIDEO_PROCESSING_TIMEOUT"), std::string::npos);
  EXPECT_EQ(admission["predicted_seconds"], std::lround(superfast));
}

TEST_F(AdmissionRunnerTest, AJobThatDoesNotFitTheMemoryLeftWaitsInTheQueueForIt) {
  settings_.memory_budget_mb = 1;  // any job fits alone, none next to another
  settings_.machine_cores = 2;
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  queue::Claim first = Claim("landscape_1080p.mp4");
  EnqueueFile(store_.get(), blobs_.get(), Fixture("one_frame.mp4"), "one_frame.mp4");
  std::atomic<int> first_outcome{-1};
  std::thread job([&] { first_outcome = static_cast<int>(runner.Run(first, 1, stop_)); });
  ASSERT_TRUE(WaitFor([&] { return !ChildrenOf(getpid(), "transcode").empty(); }, 30'000));
  EXPECT_EQ(runner.MemoryAvailableMb(), 0.0) << "the first job booked more than the budget";

  auto second = store_->ClaimNext(settings_.worker_id, 60'000, 10, std::nullopt);
  ASSERT_TRUE(second.ok() && second.value());
  EXPECT_EQ(runner.Run(**second, 1, stop_), JobOutcome::kDeferred);
  queue::Video waiting = Get((*second)->video.id);
  EXPECT_EQ(waiting.status, queue::VideoStatus::kQueued);
  EXPECT_EQ(waiting.waiting_for, "memory");
  EXPECT_EQ(waiting.attempts, 0) << "waiting is not an attempt";
  ASSERT_TRUE(waiting.predicted_memory_mb.has_value());
  EXPECT_GT(*waiting.predicted_memory_mb, 1);
  // A slot asking with what is left does not get it back while the first job runs.
  auto again = store_->ClaimNext(settings_.worker_id, 60'000, 10, runner.MemoryAvailableMb());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().has_value());

  ASSERT_TRUE(WaitFor([&] { return first_outcome != -1; }, 120'000));
  job.join();
  EXPECT_EQ(first_outcome.load(), static_cast<int>(JobOutcome::kReady));
  EXPECT_EQ(runner.MemoryAvailableMb(), std::nullopt) << "the booking ends with the job";
  auto now = store_->ClaimNext(settings_.worker_id, 60'000, 10, runner.MemoryAvailableMb());
  ASSERT_TRUE(now.ok() && now.value());
  EXPECT_EQ((*now)->video.id, waiting.id);
  EXPECT_EQ(runner.Run(**now, 1, stop_), JobOutcome::kReady) << Get(waiting.id).error_message;
  EXPECT_TRUE(Get(waiting.id).output["admission"].is_object());
}

TEST_F(AdmissionRunnerTest, WorkersOnOneMachineShareItsMemory) {
  // Two workers of one machine (the registry says so) with a budget of 1 MB each: a job of one
  // waits while the other's runs. A job of a worker on another machine does not count.
  settings_.memory_budget_mb = 1;
  settings_.machine_cores = 2;
  WorkerSettings other = settings_;
  other.worker_id = "other-worker-here";
  const std::string remote = "worker-elsewhere";
  for (const auto& [id, host] :
       {std::pair{settings_.worker_id, HostName()}, std::pair{other.worker_id, HostName()},
        std::pair{remote, std::string("another-machine")}}) {
    queue::WorkerInfo worker{id, host, 1, 2, "test", clock_.NowMs(), 0};
    ASSERT_TRUE(store_->Heartbeat(worker).ok());
  }
  JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
  JobRunner other_runner(store_.get(), blobs_.get(), other, &clock_);
  EnqueueFile(store_.get(), blobs_.get(), Fixture("one_frame.mp4"), "elsewhere.mp4");
  auto elsewhere = store_->ClaimNext(remote, 60'000, 10, std::nullopt);
  ASSERT_TRUE(elsewhere.ok() && elsewhere.value());
  EXPECT_EQ(other_runner.MemoryAvailableMb(), std::nullopt) << "nothing runs on this machine";

  queue::Claim first = Claim("landscape_1080p.mp4");
  EnqueueFile(store_.get(), blobs_.get(), Fixture("one_frame.mp4"), "one_frame.mp4");
  std::atomic<int> first_outcome{-1};
  std::thread job([&] { first_outcome = static_cast<int>(runner.Run(first, 1, stop_)); });
  ASSERT_TRUE(WaitFor([&] { return !ChildrenOf(getpid(), "transcode").empty(); }, 30'000));

  EXPECT_EQ(other_runner.MemoryAvailableMb(), 0.0) << "the first worker's job counts here";
  auto second = store_->ClaimNext(other.worker_id, 60'000, 10, std::nullopt);
  ASSERT_TRUE(second.ok() && second.value());
  EXPECT_EQ(other_runner.Run(**second, 1, stop_), JobOutcome::kDeferred);
  queue::Video waiting = Get((*second)->video.id);
  EXPECT_EQ(waiting.status, queue::VideoStatus::kQueued);
  EXPECT_EQ(waiting.waiting_for, "memory");
  auto again = store_->ClaimNext(other.worker_id, 60'000, 10, other_runner.MemoryAvailableMb());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().has_value()) << "not claimed again while the first job runs";

  ASSERT_TRUE(WaitFor([&] { return first_outcome != -1; }, 120'000));
  job.join();
  EXPECT_EQ(first_outcome.load(), static_cast<int>(JobOutcome::kReady));
  EXPECT_EQ(other_runner.MemoryAvailableMb(), std::nullopt);
  auto now = store_->ClaimNext(other.worker_id, 60'000, 10, other_runner.MemoryAvailableMb());
  ASSERT_TRUE(now.ok() && now.value());
  EXPECT_EQ((*now)->video.id, waiting.id);
  EXPECT_EQ(other_runner.Run(**now, 1, stop_), JobOutcome::kReady) << Get(waiting.id).error_message;
}

}  // namespace
}  // namespace vidproc::worker
