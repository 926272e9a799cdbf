// The worker's side of storyboards: the child's index and summary are its word only (it read a
// hostile file), so what is stored and recorded is what the worker checked. The transcoder is a
// stand-in script that writes what a test tells it to.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "storage/storyboard_vtt.h"
#include "worker/job_runner.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

constexpr char kGoodIndex[] =
    "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,160,90\n";

class StoryboardStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    store_ = queue::SqliteStore::Open(dir_ + "/jobs.db", &clock_).value();
    blobs_ = storage::LocalStore::Open(dir_ + "/storage").value();
    settings_.worker_id = "storyboard-worker";
    settings_.transcoder_path = dir_ + "/transcode.sh";
    settings_.scratch_dir = dir_ + "/scratch";
    settings_.max_tasks = 1;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // Runs one job whose child writes `index` as the storyboard's index ($9), sheet 1 beside it,
  // and reports `storyboard` in its summary. Returns the ready video.
  queue::Video RunWith(const std::string& index, const std::string& storyboard) {
    {
      std::ofstream script(settings_.transcoder_path);
      script << "#!/bin/sh\n"
             << "[ \"$8\" = --storyboard ] || exit 2\n"
             << "printf mp4 > \"$3\"\nprintf jpg > \"$5\"\n"
             << "cat > \"$9\" <<'INDEX'\n"
             << index << "INDEX\n"
             << "printf sheet > \"$(dirname \"$9\")/storyboard-1.jpg\"\n"
             << "echo '{\"event\":\"done\",\"source\":{},\"output\":{\"width\":2,"
             << "\"storyboard\":" << storyboard << "}}'\n";
    }
    chmod(settings_.transcoder_path.c_str(), 0700);
    const std::string original = dir_ + "/original";
    std::ofstream(original) << "not really a video";
    const std::string id = EnqueueFile(store_.get(), blobs_.get(), original, "clip.mov");
    JobRunner runner(store_.get(), blobs_.get(), settings_, &clock_);
    auto claim = store_->ClaimNext(settings_.worker_id, 60'000, 10, std::nullopt);
    EXPECT_TRUE(claim.ok() && claim.value().has_value());
    std::atomic<bool> stop{false};
    EXPECT_EQ(runner.Run(*claim.value(), 1, stop), JobOutcome::kReady);
    return store_->GetVideo(id).value();
  }

  std::vector<std::string> StoryboardBlobs(const std::string& id) {
    return blobs_->List(storage::StoryboardPrefix(id)).value();
  }
  std::string Blob(const std::string& key) {
    std::ifstream in(blobs_->LocalPathFor(key).value(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  ManualClock clock_;
  std::unique_ptr<queue::SqliteStore> store_;
  std::unique_ptr<storage::LocalStore> blobs_;
  WorkerSettings settings_;
};

TEST_F(StoryboardStoreTest, TheRecordSaysWhatTheIndexHoldsNotWhatTheChildClaims) {
  queue::Video v = RunWith(kGoodIndex, R"({"sheets":1,"tiles":999,"interval_s":0.001,)"
                                       R"("tile_width":7,"tile_height":7,"columns":10,"rows":10})");
  EXPECT_EQ(v.output["storyboard"], nlohmann::json({{"sheets", 1},
                                                    {"tiles", 1},
                                                    {"interval_s", 2.0},
                                                    {"tile_width", 160},
                                                    {"tile_height", 90},
                                                    {"columns", 10},
                                                    {"rows", 10}}));
  EXPECT_EQ(StoryboardBlobs(v.id), (std::vector<std::string>{storage::StoryboardSheetKey(v.id, 1),
                                                             storage::StoryboardKey(v.id)}));
  EXPECT_EQ(Blob(storage::StoryboardKey(v.id)), kGoodIndex);
  EXPECT_EQ(Blob(storage::StoryboardSheetKey(v.id, 1)), "sheet");
}

TEST_F(StoryboardStoreTest, AStoryboardThatDoesNotHoldUpIsLeftOutAndTheVideoKept) {
  const std::string evil =
      "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nhttps://evil.example/x.jpg#xywh=0,0,160,90\n";
  for (const auto& [index, claim] : std::vector<std::pair<std::string, std::string>>{
           {evil, R"({"sheets":1})"},          // a URL instead of a sheet
           {kGoodIndex, R"({"sheets":11})"},   // more sheets than a key can name
           {kGoodIndex, R"({"sheets":"1"})"},  // not a number
           {kGoodIndex, R"({"sheets":2})"},    // sheet 2 was never written
           {"WEBVTT\n", R"({"sheets":1})"},    // no cue
           {std::string(kGoodIndex) + "<script>\n", R"({"sheets":1})"},
       }) {
    queue::Video v = RunWith(index, claim);
    EXPECT_EQ(v.status, queue::VideoStatus::kReady);
    EXPECT_TRUE(v.output["storyboard"].is_null()) << claim << " " << index;
    EXPECT_TRUE(StoryboardBlobs(v.id).empty()) << claim << " " << index;
  }
  // No storyboard at all (an engine from before, or none made): null, nothing stored.
  queue::Video none = RunWith(kGoodIndex, "null");
  EXPECT_TRUE(none.output["storyboard"].is_null());
  EXPECT_TRUE(StoryboardBlobs(none.id).empty());
}

}  // namespace
}  // namespace vidproc::worker
