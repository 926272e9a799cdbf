// JobRunner's one deadline, on a ManualClock: it covers the download as well as the child, the
// child is stopped when it runs out, and a child killed by the CPU safety net is a timeout too.
#include "worker/job_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

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

}  // namespace
}  // namespace vidproc::worker
