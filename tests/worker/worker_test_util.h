// Shared set-up for worker tests: a temporary data directory with a real SQLite store and a real
// local blob store, and helpers to enqueue fixtures and wait for results.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/ids.h"
#include "queue/sqlite_store.h"
#include "storage/local_store.h"
#include "worker/job_runner.h"

namespace vidproc::worker::testing {

inline std::string Fixture(const std::string& name) {
  return std::string(VIDPROC_FIXTURES_PATH) + "/" + name;
}

inline std::string MakeTempDir() {
  char templ[] = "/tmp/vidproc-worker-XXXXXX";
  return mkdtemp(templ);
}

// Polls `done` every 50 ms for up to `timeout_ms`; true if it became true.
inline bool WaitFor(const std::function<bool()>& done, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Queues a new video whose original is a copy of the file at `path`, as an upload would; its id.
inline std::string EnqueueFile(queue::JobStore* store, storage::BlobStore* blobs,
                               const std::string& path, const std::string& filename) {
  queue::Video v;
  v.id = NewId();
  v.filename = filename;
  v.status = queue::VideoStatus::kUploading;
  EXPECT_TRUE(store->CreateVideo(v).ok());
  EXPECT_TRUE(blobs->PutFile(storage::OriginalKey(v.id), path, "").ok());
  EXPECT_TRUE(store->MarkUploaded(v.id, 1).ok());
  return v.id;
}

// Pids of the processes whose parent is `parent` and whose command line contains `needle`.
inline std::set<pid_t> ChildrenOf(pid_t parent, const std::string& needle) {
  std::set<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (!proc) return pids;
  while (dirent* e = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid != parent || state == 'Z') continue;
    std::ifstream cmd("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) pids.insert(pid);
  }
  closedir(proc);
  return pids;
}

// A fake cgroup hierarchy (and /proc files) under a temporary directory, for the budgets that
// read the cgroup's limits (thread_budget.h, memory_budget.h).
class FakeCgroupTree : public ::testing::Test {
 protected:
  void SetUp() override { root_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(root_ + path).parent_path());
    std::ofstream(root_ + path) << text;
  }
  std::string root_;
};

// A JobRunner's world for one test: a temporary directory with a real SQLite store, real local
// storage and settings that run the real `vidproc transcode` child.
class JobRunnerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    store_ = queue::SqliteStore::Open(dir_ + "/jobs.db", SystemClock::Default()).value();
    blobs_ = storage::LocalStore::Open(dir_ + "/storage").value();
    settings_.worker_id = "test-worker";
    settings_.transcoder_path = VIDPROC_BIN_PATH;
    settings_.scratch_dir = dir_ + "/scratch";
    settings_.progress_interval_ms = 200;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // Claims the oldest queued job.
  queue::Claim ClaimNext() {
    auto claim = store_->ClaimNext(settings_.worker_id, 60'000, 1, std::nullopt);
    EXPECT_TRUE(claim.ok() && claim.value());
    return *claim.value();
  }
  queue::Video Get(const std::string& id) { return store_->GetVideo(id).value(); }

  std::string dir_;
  std::unique_ptr<queue::SqliteStore> store_;
  std::unique_ptr<storage::LocalStore> blobs_;
  WorkerSettings settings_;
  std::atomic<bool> stop_{false};
};

}  // namespace vidproc::worker::testing
