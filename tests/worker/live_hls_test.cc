// HLS published while the job runs (worker/live_hls.h, storage/hls_publication.h), with a real
// child, real SQLite and real local storage: playable before ready, every playlist a player can
// fetch names only stored segments, closed at the end; a stopped attempt withdraws what it
// published and a retry replaces what a dead attempt left.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "storage/hls_publication.h"
#include "support/output_keys.h"
#include "worker/job_runner.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

class LiveHlsTest : public JobRunnerFixture {
 protected:
  void SetUp() override {
    JobRunnerFixture::SetUp();
    // Slower than a worker's default, so the job is seen running with segments published.
    settings_.preset = "slow";
  }

  // Runs the claimed job on a thread of its own; once the video is playable, `meanwhile` runs
  // (unless the job ended first: then it is a failure of the test). The job's outcome.
  JobOutcome RunWhilePlayable(const queue::Claim& claim, const std::function<void()>& meanwhile) {
    JobRunner runner(store_.get(), blobs_.get(), settings_, SystemClock::Default());
    std::atomic<int> outcome{-1};
    std::thread job([&] { outcome = static_cast<int>(runner.Run(claim, 1, stop_)); });
    EXPECT_TRUE(WaitFor([&] { return Get(claim.video.id).playable || outcome != -1; }, 120'000));
    if (outcome == -1) {
      meanwhile();
    } else {
      ADD_FAILURE() << "the job ended before it was seen playable";
    }
    job.join();
    return static_cast<JobOutcome>(outcome.load());
  }

  std::string Read(const std::string& key) {
    auto text = blobs_->ReadRange(key, 0, 1 << 20);
    return text.ok() ? text.value() : "";
  }

  // The stored HLS as a player sees it: the master's media playlist, and every file it names
  // that is not stored. Returns the segment names.
  std::vector<std::string> CheckStoredHls(const std::string& id, bool* ended) {
    const std::string master = Read(storage::HlsKey(id, "master.m3u8"));
    EXPECT_NE(master.find("#EXT-X-STREAM-INF:"), std::string::npos) << master;
    // The one rung: 1024x576 is not upscaled, so it is "576p".
    EXPECT_NE(master.find("\n576p.m3u8\n"), std::string::npos) << master;
    const std::string media = Read(storage::HlsKey(id, "576p.m3u8"));
    *ended = media.find("#EXT-X-ENDLIST") != std::string::npos;
    std::vector<std::string> segments;
    std::stringstream lines(media);
    for (std::string line; std::getline(lines, line);) {
      std::string name;
      if (line.rfind("#EXT-X-MAP:URI=\"", 0) == 0) name = line.substr(16, line.size() - 17);
      if (!line.empty() && line[0] != '#') {
        name = line;
        segments.push_back(line);
      }
      if (name.empty()) continue;
      auto stat = blobs_->Stat(storage::HlsKey(id, name));
      EXPECT_TRUE(stat.ok() && stat.value().has_value())
          << "the playlist names " << name << ", which is not stored";
    }
    return segments;
  }

  std::set<std::string> HlsKeys(const std::string& id) {
    auto keys = blobs_->List(storage::HlsPrefix(id));
    EXPECT_TRUE(keys.ok());
    return keys.ok() ? std::set<std::string>(keys->begin(), keys->end()) : std::set<std::string>{};
  }
};

TEST_F(LiveHlsTest, PlayableWhileProcessingAndClosedWhenReady) {
  const std::string id = EnqueueFile(store_.get(), blobs_.get(), Fixture("real_h264.avi"), "a.avi");
  // Seen while the rest is still being encoded: playable, with a growing playlist whose every
  // segment is stored.
  const JobOutcome outcome = RunWhilePlayable(ClaimNext(), [&] {
    ASSERT_EQ(Get(id).status, queue::VideoStatus::kProcessing);
    bool ended = true;
    const auto segments = CheckStoredHls(id, &ended);
    EXPECT_FALSE(ended) << "closed before the job ended";
    EXPECT_FALSE(segments.empty());
  });
  ASSERT_EQ(outcome, JobOutcome::kReady) << Get(id).error_message;
  queue::Video v = Get(id);
  bool ended = false;
  const auto segments = CheckStoredHls(id, &ended);
  EXPECT_TRUE(ended);
  ASSERT_GE(segments.size(), 2u) << "8.4 s in segments of about 4 s";
  ASSERT_TRUE(v.output.is_object());
  EXPECT_EQ(v.output["hls"]["segments"], static_cast<int>(segments.size()));
  EXPECT_EQ(v.output["outputs"], nlohmann::json::array({"mp4", "hls"}));
  // Nothing else is stored under the HLS prefix: the master, the playlist, init and segments.
  EXPECT_EQ(HlsKeys(id).size(), segments.size() + 3);
}

TEST_F(LiveHlsTest, AStoppedAttemptWithdrawsItsSegmentsAndTheRetryPublishesAnew) {
  const std::string id = EnqueueFile(store_.get(), blobs_.get(), Fixture("real_h264.avi"), "a.avi");
  // A worker shutting down: the job goes back to the queue.
  ASSERT_EQ(RunWhilePlayable(ClaimNext(), [&] { stop_ = true; }), JobOutcome::kReleased);
  EXPECT_EQ(HlsKeys(id), std::set<std::string>{}) << "a released attempt leaves no HLS behind";
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kQueued);
  EXPECT_FALSE(v.playable);

  stop_ = false;
  JobRunner runner(store_.get(), blobs_.get(), settings_, SystemClock::Default());
  queue::Claim retry = ClaimNext();
  ASSERT_EQ(runner.Run(retry, 2, stop_), JobOutcome::kReady) << Get(id).error_message;
  bool ended = false;
  const auto segments = CheckStoredHls(id, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(HlsKeys(id).size(), segments.size() + 3);
}

// A video deleted while its job publishes: whatever the job published after the deletion's own
// clean-up is withdrawn when the job stops (it lost its lease: the video is gone).
TEST_F(LiveHlsTest, AVideoDeletedWhileItsJobPublishesLeavesNoHls) {
  const std::string id = EnqueueFile(store_.get(), blobs_.get(), Fixture("real_h264.avi"), "a.avi");
  // What DELETE /api/v1/videos/{id} does (http/uploads.cc): the record, then the objects.
  const JobOutcome outcome = RunWhilePlayable(ClaimNext(), [&] {
    ASSERT_TRUE(store_->DeleteVideo(id).ok());
    ASSERT_TRUE(storage::WithdrawHls(blobs_.get(), id).ok());
  });
  EXPECT_EQ(outcome, JobOutcome::kLost);
  EXPECT_EQ(HlsKeys(id), std::set<std::string>{});
}

// A job presumed dead (its lease expired while it stalled) and handed to another worker: the old
// attempt stops, and leaves the publication to the new holder.
TEST_F(LiveHlsTest, AnAttemptThatLostItsLeaseToAnotherWorkerStopsAndTouchesNothing) {
  const std::string id = EnqueueFile(store_.get(), blobs_.get(), Fixture("real_h264.avi"), "a.avi");
  const queue::Claim claim = ClaimNext();
  std::set<std::string> published;
  std::optional<queue::Claim> taken_over;
  const JobOutcome outcome = RunWhilePlayable(claim, [&] {
    // What lease recovery and the next claim do, with the old attempt still running.
    ASSERT_TRUE(store_->ReleaseJob(id, claim.lease_token).ok());
    auto next = store_->ClaimNext("another-worker", 60'000, 1, std::nullopt);
    ASSERT_TRUE(next.ok() && next.value());
    taken_over = *next.value();
    published = HlsKeys(id);
  });
  EXPECT_EQ(outcome, JobOutcome::kLost);
  ASSERT_TRUE(taken_over.has_value());
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kProcessing) << "the new holder's job";
  EXPECT_EQ(v.worker, "another-worker");
  EXPECT_EQ(v.error_code, "");
  EXPECT_FALSE(published.empty());
  for (const std::string& key : published) {
    EXPECT_TRUE(blobs_->Stat(key).value().has_value())
        << key << ": not the old attempt's to remove";
  }
}

TEST_F(LiveHlsTest, ARetryReplacesWhatADeadAttemptPublished) {
  const std::string id = EnqueueFile(store_.get(), blobs_.get(), Fixture("real_h264.avi"), "a.avi");
  // A worker that died mid-job leaves its publication as it was: here, a playlist naming more
  // segments than the retry will make, some of them never stored.
  const std::string stale_dir = dir_ + "/stale";
  std::filesystem::create_directories(stale_dir);
  std::ofstream(stale_dir + "/master.m3u8")
      << "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n576p.m3u8\n";
  std::string media = "#EXTM3U\n#EXT-X-MAP:URI=\"576p-init.mp4\"\n";
  for (int i = 0; i < 9; ++i) media += "#EXTINF:4,\n576p-0000" + std::to_string(i) + ".m4s\n";
  std::ofstream(stale_dir + "/576p.m3u8") << media;
  for (const char* name : {"576p-init.mp4", "576p-00007.m4s", "576p-00008.m4s"}) {
    std::ofstream(stale_dir + "/" + name) << "stale";
  }
  for (const char* name :
       {"master.m3u8", "576p.m3u8", "576p-init.mp4", "576p-00007.m4s", "576p-00008.m4s"}) {
    ASSERT_TRUE(blobs_->PutFile(storage::HlsKey(id, name), stale_dir + "/" + name, "").ok());
  }
  // Its claim counted as an attempt; its lease ran out and the job was recovered.
  auto dead = store_->ClaimNext("dead-worker", 1'000, 1, std::nullopt);
  ASSERT_TRUE(dead.ok() && dead.value());
  ASSERT_TRUE(store_->MarkPlayable(id, (*dead)->lease_token).ok());
  EXPECT_TRUE(Get(id).playable);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  ASSERT_EQ(store_->RecoverExpiredLeases(3).value(), 1);
  EXPECT_FALSE(Get(id).playable) << "a job back in the queue is not playable";

  JobRunner runner(store_.get(), blobs_.get(), settings_, SystemClock::Default());
  queue::Claim retry = ClaimNext();
  ASSERT_GT(retry.video.attempts, 1);
  ASSERT_EQ(runner.Run(retry, 2, stop_), JobOutcome::kReady) << Get(id).error_message;
  bool ended = false;
  const auto segments = CheckStoredHls(id, &ended);
  EXPECT_TRUE(ended);
  ASSERT_LT(segments.size(), 7u);
  EXPECT_EQ(HlsKeys(id).size(), segments.size() + 3) << "the dead attempt's segments are gone";
  EXPECT_NE(Read(storage::HlsKey(id, "576p-init.mp4")), "stale");
}

TEST_F(LiveHlsTest, HlsOnlyStoresNoMp4AndMp4OnlyNoHls) {
  for (bool hls_only : {true, false}) {
    SCOPED_TRACE(hls_only ? "hls" : "mp4");
    settings_.mp4 = !hls_only;
    settings_.hls = hls_only;
    settings_.renditions = "360";  // an extra rung with HLS; nothing without
    settings_.preset = "veryfast";
    const std::string id =
        EnqueueFile(store_.get(), blobs_.get(), Fixture("landscape_1080p.mp4"), "a.mp4");
    JobRunner runner(store_.get(), blobs_.get(), settings_, SystemClock::Default());
    queue::Claim claim = ClaimNext();
    ASSERT_EQ(runner.Run(claim, 2, stop_), JobOutcome::kReady) << Get(id).error_message;
    EXPECT_EQ(blobs_->Stat(storage::VideoKey(id)).value().has_value(), !hls_only);
    EXPECT_EQ(HlsKeys(id).empty(), !hls_only);
    const nlohmann::json output = Get(id).output;
    EXPECT_EQ(output["outputs"], nlohmann::json::array({hls_only ? "hls" : "mp4"}));
    if (hls_only) {
      ASSERT_EQ(output["hls"]["rungs"].size(), 2u) << output.dump();
      EXPECT_EQ(output["hls"]["rungs"][1]["height"], 360);
    }
    EXPECT_EQ(blobs_->List("videos/" + id + "/").value(),
              vidproc::testing::ReadyVideoKeys(id, output));
  }
}

}  // namespace
}  // namespace vidproc::worker
