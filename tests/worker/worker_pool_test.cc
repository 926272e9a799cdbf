// The worker pool with real SQLite, real local storage and real `vidproc transcode` children.
#include "worker/worker_pool.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "storage/fault_injecting_store.h"
#include "support/output_keys.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    store_ = queue::SqliteStore::Open(dir_ + "/jobs.db", SystemClock::Default()).value();
    blobs_ = storage::LocalStore::Open(dir_ + "/storage").value();
    faulty_ = std::make_unique<storage::FaultInjectingStore>(blobs_.get());
    settings_.worker_id = "test-worker";
    settings_.transcoder_path = VIDPROC_BIN_PATH;
    settings_.scratch_dir = dir_ + "/scratch";
    settings_.max_tasks = 2;
    settings_.machine_cores = 1;  // one thread per job, however many run
    settings_.lease_ms = 5'000;
    settings_.progress_interval_ms = 200;
    settings_.retry_backoff_ms = 0;
    settings_.kill_grace_ms = 1'000;
  }
  void TearDown() override {
    pool_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string Enqueue(const std::string& fixture) {
    return EnqueueFile(store_.get(), blobs_.get(), Fixture(fixture), fixture);
  }

  void StartPool(const Clock* clock = SystemClock::Default()) {
    pool_ = std::make_unique<WorkerPool>(store_.get(), faulty_.get(), settings_, clock);
    pool_->Start();
  }

  queue::Video Get(const std::string& id) { return store_->GetVideo(id).value(); }

  bool Settled(const std::string& id) {
    auto s = Get(id).status;
    return s == queue::VideoStatus::kReady || s == queue::VideoStatus::kFailed;
  }

  std::string dir_;
  std::unique_ptr<queue::SqliteStore> store_;
  std::unique_ptr<storage::LocalStore> blobs_;
  std::unique_ptr<storage::FaultInjectingStore> faulty_;
  WorkerSettings settings_;
  ManualClock manual_clock_;  // outlives pool_
  std::unique_ptr<WorkerPool> pool_;
};

TEST_F(WorkerPoolTest, ProcessesAVideoAndReplacesTheOriginal) {
  std::string id = Enqueue("real_1080p.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 60'000));
  queue::Video v = Get(id);
  ASSERT_EQ(v.status, queue::VideoStatus::kReady) << v.error_code << ": " << v.error_message;
  EXPECT_EQ(v.attempts, 1);
  EXPECT_EQ(v.output["width"], 1280);
  EXPECT_EQ(v.output["height"], 720);
  EXPECT_EQ(v.source["video"]["width"], 1920);
  EXPECT_FALSE(v.has_original);
  EXPECT_EQ(blobs_->List("videos/" + id + "/").value(),
            vidproc::testing::ReadyVideoKeys(id, v.output));
  pool_->Stop(0);
  EXPECT_TRUE(
      WaitFor([&] { return !std::filesystem::exists(settings_.scratch_dir + "/" + id); }, 1000))
      << "the scratch directory was left behind";
}

TEST_F(WorkerPoolTest, KeepOriginalKeepsIt) {
  settings_.keep_original = true;
  std::string id = Enqueue("no_audio.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 60'000));
  EXPECT_EQ(Get(id).status, queue::VideoStatus::kReady);
  EXPECT_TRUE(Get(id).has_original);
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
}

TEST_F(WorkerPoolTest, NeverRunsMoreThanTheCap) {
  // Twice as many videos as slots: two rounds, each with both slots busy and two more waiting.
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Enqueue("landscape_1080p.mp4"));
  std::atomic<bool> watching{true};
  std::atomic<size_t> most_children{0};
  std::atomic<int64_t> most_processing{0};
  std::thread watcher([&] {
    while (watching) {
      most_children = std::max(most_children.load(), ChildrenOf(getpid(), "transcode").size());
      most_processing = std::max(most_processing.load(), store_->Counts()->processing);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  StartPool();
  bool all = WaitFor(
      [&] {
        for (const auto& id : ids) {
          if (!Settled(id)) return false;
        }
        return true;
      },
      240'000);  // a ceiling for a loaded machine under the sanitizers, not a measurement
  watching = false;
  watcher.join();
  ASSERT_TRUE(all);
  for (const auto& id : ids) EXPECT_EQ(Get(id).status, queue::VideoStatus::kReady);
  EXPECT_EQ(most_children.load(), 2u) << "children at once";
  EXPECT_LE(most_processing.load(), 2);
}

// The `--threads` value a running transcoder child was given, from its command line (0 if gone).
int ThreadsArgOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string arg;
  bool next = false;
  while (std::getline(in, arg, '\0')) {
    if (next) return std::atoi(arg.c_str());
    next = arg == "--threads";
  }
  return 0;
}

// Every transcoder child seen while `done` is false, with its --threads.
std::map<pid_t, int> WatchChildrenThreads(const std::function<bool()>& done, int64_t timeout_ms) {
  std::map<pid_t, int> seen;
  WaitFor(
      [&] {
        for (pid_t pid : ChildrenOf(getpid(), "transcode")) {
          if (int threads = ThreadsArgOf(pid); threads > 0) seen.emplace(pid, threads);
        }
        return done();
      },
      timeout_ms);
  return seen;
}

TEST_F(WorkerPoolTest, ALoneJobOnAnIdleWorkerGetsEveryCore) {
  settings_.machine_cores = 4;  // whatever this machine has: the budget is the setting's
  std::string id = Enqueue("real_1080p.mp4");
  StartPool();
  auto children = WatchChildrenThreads([&] { return Settled(id); }, 60'000);
  queue::Video v = Get(id);
  ASSERT_EQ(v.status, queue::VideoStatus::kReady) << v.error_code << ": " << v.error_message;
  EXPECT_EQ(v.output["threads"], 4) << "the output summary";
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children.begin()->second, 4) << "the child's --threads";
}

TEST_F(WorkerPoolTest, ASecondConcurrentJobSharesTheCoresInsteadOfOversubscribing) {
  settings_.machine_cores = 4;
  // Both queued before the start: the second slot claims while the first job runs.
  std::string first = Enqueue("landscape_1080p.mp4");
  std::string second = Enqueue("landscape_1080p.mp4");
  StartPool();
  bool ran_together = false;
  auto children = WatchChildrenThreads(
      [&] {
        ran_together = ran_together || ChildrenOf(getpid(), "transcode").size() == 2;
        return Settled(first) && Settled(second);
      },
      240'000);  // a ceiling for a loaded machine, not a measurement
  ASSERT_EQ(Get(first).status, queue::VideoStatus::kReady);
  ASSERT_EQ(Get(second).status, queue::VideoStatus::kReady);
  ASSERT_TRUE(ran_together) << "the two jobs never ran together";
  // Claimed on an idle worker, the first gets all 4 cores; the second, claimed while it runs, a
  // share: 2, not another 4.
  std::multiset<int> threads = {Get(first).output["threads"].get<int>(),
                                Get(second).output["threads"].get<int>()};
  EXPECT_EQ(threads, (std::multiset<int>{2, 4})) << "the output summaries";
  std::multiset<int> argv;
  for (const auto& [pid, t] : children) argv.insert(t);
  EXPECT_EQ(argv, (std::multiset<int>{2, 4})) << "the children's --threads";
}

TEST_F(WorkerPoolTest, BadInputFailsOnceWithTheEngineCodeAndKeepsTheOriginal) {
  std::string id = Enqueue("truncated.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 60'000));
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "truncated_input");
  EXPECT_FALSE(v.error_message.empty());
  EXPECT_EQ(v.attempts, 1) << "a permanent failure must not be retried";
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
  EXPECT_FALSE(blobs_->Stat(storage::VideoKey(id)).value().has_value());
}

TEST_F(WorkerPoolTest, TransientStorageFailureIsRetried) {
  // The first put must be the MP4's: with HLS, a live segment upload fails first, and that is
  // not the job's failure (the final publication uploads it again).
  settings_.hls = false;
  faulty_->FailNext("put", 1);
  std::string id = Enqueue("no_audio.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 60'000));
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kReady) << v.error_code;
  EXPECT_EQ(v.attempts, 2);
  EXPECT_EQ(faulty_->injected(), 1);
}

TEST_F(WorkerPoolTest, PersistentStorageFailureFailsAfterMaxAttemptsKeepingTheOriginal) {
  settings_.max_attempts = 2;
  faulty_->FailNext("put", 100);
  std::string id = Enqueue("no_audio.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 60'000));
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "storage_unavailable");
  EXPECT_EQ(v.attempts, 2);
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
}

TEST_F(WorkerPoolTest, AKilledChildIsRetried) {
  settings_.preset = "slow";  // keep the first attempt running long enough to be killed
  std::string id = Enqueue("landscape_1080p.mp4");
  StartPool();
  std::set<pid_t> children;
  ASSERT_TRUE(
      WaitFor([&] { return !(children = ChildrenOf(getpid(), "transcode")).empty(); }, 10'000));
  kill(*children.begin(), SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Settled(id); }, 120'000));
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kReady) << v.error_code;
  EXPECT_EQ(v.attempts, 2);
}

TEST_F(WorkerPoolTest, TimeoutKillsTheJobAndFreesTheSlot) {
  settings_.max_tasks = 1;
  settings_.preset = "veryslow";
  std::string slow = Enqueue("landscape_1080p.mp4");
  StartPool(&manual_clock_);
  ASSERT_TRUE(WaitFor([&] { return !ChildrenOf(getpid(), "transcode").empty(); }, 30'000));
  manual_clock_.Advance(settings_.timeout_ms);
  auto ran_out = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Settled(slow); }, 30'000));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - ran_out).count();
  queue::Video v = Get(slow);
  EXPECT_EQ(v.status, queue::VideoStatus::kFailed);
  EXPECT_EQ(v.error_code, "timeout");
  EXPECT_EQ(v.attempts, 1) << "timeouts are not retried by default";
  EXPECT_LT(took, 2.0) << "stopped (TERM, then KILL after the grace) within 2 s of the deadline";
  EXPECT_TRUE(ChildrenOf(getpid(), "transcode").empty());
  // The slot is free again: the next job runs.
  std::string next = Enqueue("one_frame.mp4");
  ASSERT_TRUE(WaitFor([&] { return Settled(next); }, 30'000));
  EXPECT_EQ(Get(next).status, queue::VideoStatus::kReady);
}

TEST_F(WorkerPoolTest, GracefulStopReleasesRunningJobs) {
  settings_.preset = "veryslow";
  std::string id = Enqueue("landscape_1080p.mp4");
  StartPool();
  ASSERT_TRUE(WaitFor([&] { return Get(id).status == queue::VideoStatus::kProcessing; }, 10'000));
  ASSERT_TRUE(WaitFor([&] { return !ChildrenOf(getpid(), "transcode").empty(); }, 10'000));
  pool_->Stop(200);
  queue::Video v = Get(id);
  EXPECT_EQ(v.status, queue::VideoStatus::kQueued);
  EXPECT_EQ(v.attempts, 0) << "a released job does not count an attempt";
  EXPECT_TRUE(ChildrenOf(getpid(), "transcode").empty());
  EXPECT_TRUE(blobs_->Stat(storage::OriginalKey(id)).value().has_value());
}

}  // namespace
}  // namespace vidproc::worker
