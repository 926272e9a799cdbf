// `vidproc worker` and `vidproc enqueue` as separate processes, killed the hard way.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <filesystem>

#include "support/output_keys.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

class WorkerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    env_ = {"PATH=/usr/bin:/bin", "VIDPROC_DATA_DIR=" + dir_, "VIDPROC_LEASE_SECONDS=2",
            "VIDPROC_RETRY_BACKOFF_SECONDS=0", "LOG_LEVEL=warning"};
  }
  void TearDown() override {
    for (pid_t pid : workers_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  pid_t StartWorker(int slots) {
    std::vector<std::string> env = env_;
    env.push_back("MAX_VIDEO_PROCESSING_TASKS=" + std::to_string(slots));
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> envp;
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      const char* argv[] = {VIDPROC_BIN_PATH, "worker", nullptr};
      execve(VIDPROC_BIN_PATH, const_cast<char**>(argv), envp.data());
      _exit(127);
    }
    workers_.push_back(pid);
    return pid;
  }

  std::vector<std::string> Enqueue(const std::vector<std::string>& fixtures) {
    std::string cmd = "env -i";
    for (const auto& e : env_) cmd += " '" + e + "'";
    cmd += " " + std::string(VIDPROC_BIN_PATH) + " enqueue";
    for (const auto& f : fixtures) cmd += " '" + Fixture(f) + "'";
    FILE* p = popen(cmd.c_str(), "r");
    std::vector<std::string> ids;
    std::array<char, 256> line;
    while (fgets(line.data(), line.size(), p)) {
      std::string id(line.data());
      while (!id.empty() && (id.back() == '\n')) id.pop_back();
      ids.push_back(id);
    }
    EXPECT_EQ(pclose(p), 0);
    return ids;
  }

  std::unique_ptr<queue::SqliteStore> Store() {
    return queue::SqliteStore::Open(dir_ + "/vidproc.db", SystemClock::Default()).value();
  }

  std::string dir_;
  std::vector<std::string> env_;
  std::vector<pid_t> workers_;
};

TEST_F(WorkerProcessTest, KilledWorkerIsRecoveredAndTheJobCompletesOnce) {
  std::vector<std::string> ids = Enqueue({"landscape_1080p.mp4"});
  ASSERT_EQ(ids.size(), 1u);
  const std::string& id = ids[0];
  auto store = Store();
  pid_t worker = StartWorker(1);
  // Mid-transcode: the job is processing and its child is running.
  std::set<pid_t> children;
  ASSERT_TRUE(
      WaitFor([&] { return !(children = ChildrenOf(worker, "transcode")).empty(); }, 20'000));
  ASSERT_EQ(store->GetVideo(id)->status, queue::VideoStatus::kProcessing);
  kill(worker, SIGKILL);
  waitpid(worker, nullptr, 0);
  // The child dies with its worker: nothing keeps running, nothing is finished.
  pid_t child = *children.begin();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
        std::string line;
        return !std::getline(stat, line) || line.find(") Z") != std::string::npos;
      },
      5'000))
      << "the transcoder outlived its worker";
  EXPECT_EQ(store->GetVideo(id)->status, queue::VideoStatus::kProcessing);

  StartWorker(1);  // a restart: the expired lease puts the job back, and it runs again
  ASSERT_TRUE(
      WaitFor([&] { return store->GetVideo(id)->status == queue::VideoStatus::kReady; }, 90'000));
  queue::Video v = store->GetVideo(id).value();
  EXPECT_EQ(v.attempts, 2);
  auto blobs = storage::LocalStore::Open(dir_ + "/storage").value();
  EXPECT_EQ(blobs->List("").value(), vidproc::testing::ReadyVideoKeys(id, v.output))
      << "exactly the outputs: no duplicate, no orphan, the original replaced";
  EXPECT_TRUE(blobs->List("videos/" + id + "/original").value().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/storage/tmp"));
}

TEST_F(WorkerProcessTest, FiftyQueuedJobsSurviveARestartAndAllFinish) {
  std::vector<std::string> files(50, "one_frame.mp4");
  std::vector<std::string> ids = Enqueue(files);
  ASSERT_EQ(ids.size(), 50u);
  auto store = Store();
  pid_t worker = StartWorker(2);
  ASSERT_TRUE(WaitFor([&] { return store->Counts()->ready >= 5; }, 60'000));
  // The running worker is in the registry, with its slots.
  auto workers = store->ListWorkers(60'000).value();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].slots, 2);
  EXPECT_EQ(workers[0].pid, worker);
  kill(worker, SIGTERM);  // a graceful stop part-way
  int status = 0;
  waitpid(worker, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto mid = store->Counts().value();
  EXPECT_EQ(mid.processing, 0) << "a stopped worker leaves no job processing";
  EXPECT_TRUE(store->ListWorkers(60'000)->empty()) << "a stopped worker leaves the registry";
  EXPECT_GT(mid.queued, 0);
  StartWorker(2);
  ASSERT_TRUE(WaitFor([&] { return store->Counts()->ready == 50; }, 120'000))
      << "ready: " << store->Counts()->ready;
  EXPECT_EQ(store->Counts()->failed, 0);
  for (const auto& id : ids) EXPECT_EQ(store->GetVideo(id)->attempts, 1) << id;
}

TEST_F(WorkerProcessTest, StatusAndRetryCommands) {
  std::vector<std::string> ids = Enqueue({"text.mp4"});
  auto store = Store();
  pid_t worker = StartWorker(1);
  ASSERT_TRUE(WaitFor(
      [&] { return store->GetVideo(ids[0])->status == queue::VideoStatus::kFailed; }, 30'000));
  kill(worker, SIGTERM);
  waitpid(worker, nullptr, 0);
  std::string cmd = "env -i";
  for (const auto& e : env_) cmd += " '" + e + "'";
  std::string base = cmd + " " + VIDPROC_BIN_PATH;
  FILE* p = popen((base + " status " + ids[0]).c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ASSERT_EQ(pclose(p), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error"]["code"], "not_a_video");
  EXPECT_EQ(std::system((base + " retry " + ids[0] + " >/dev/null").c_str()), 0);
  EXPECT_EQ(store->GetVideo(ids[0])->status, queue::VideoStatus::kQueued);
  EXPECT_NE(std::system((base + " retry " + ids[0] + " 2>/dev/null >/dev/null").c_str()), 0)
      << "a queued video cannot be retried";
}

}  // namespace
}  // namespace vidproc::worker
