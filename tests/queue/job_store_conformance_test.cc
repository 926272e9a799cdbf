#include "job_store_conformance.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "core/ids.h"

#include "queue/fault_injecting_job_store.h"
#include "queue/sqlite_store.h"

namespace vidproc::queue {
namespace {

struct SqliteFactory {
  std::string dir;
  SqliteFactory() {
    char templ[] = "/tmp/vidproc-jobstore-XXXXXX";
    dir = mkdtemp(templ);
  }
  ~SqliteFactory() { std::system(("rm -rf '" + dir + "'").c_str()); }
  // Opens the same database again (a restart).
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    auto store = SqliteStore::Open(dir + "/jobs.db", clock);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
};

// The fault-injecting wrapper with no fault set must be the store it wraps: every call forwarded.
struct FaultInjectingSqliteFactory {
  SqliteFactory sqlite;
  std::unique_ptr<JobStore> target;  // outlives the wrapper: the suite drops its store first
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    target = sqlite.Open(clock);
    return std::make_unique<FaultInjectingJobStore>(target.get());
  }
};

using SqliteStores = ::testing::Types<SqliteFactory>;
using FaultInjectingStores = ::testing::Types<FaultInjectingSqliteFactory>;

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, JobStoreTest, SqliteStores);
INSTANTIATE_TYPED_TEST_SUITE_P(FaultInjectingSqlite, JobStoreTest, FaultInjectingStores);
}  // namespace testing

namespace {

// `vidproc serve`: the API queues and the worker waits in one process, on one store. The worker
// must not sleep out its poll interval with a job waiting. `queue_one` queues a video as one of
// the upload paths does; whenever the waiter starts waiting, the next one must wake it.
void ExpectAWaitingWorkerIsWoken(const std::function<void(JobStore*)>& queue_one) {
  SqliteFactory db;
  auto store = db.Open(SystemClock::Default());
  EXPECT_FALSE(store->WaitForJobs(100)) << "nothing happened, yet it woke";
  std::atomic<bool> returned{false};
  bool woken = false;
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point woke_at;
  std::thread waiter([&] {
    woken = store->WaitForJobs(30'000);
    woke_at = std::chrono::steady_clock::now();
    returned = true;
  });
  for (int i = 0; i < 100 && !returned; ++i) {
    queue_one(store.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pacing, not waiting
  }
  waiter.join();
  EXPECT_TRUE(woken);
  EXPECT_LT(std::chrono::duration<double>(woke_at - started).count(), 10.0)
      << "woken by the upload, not by the 30 s timeout";
}

Video NewVideo(VideoStatus status) {
  Video v;
  v.id = NewId();
  v.filename = "wake";
  v.status = status;
  return v;
}

TEST(SqliteWakeTest, AWholeFileUploadWakesAWaitingWorker) {
  ExpectAWaitingWorkerIsWoken([](JobStore* store) {
    ASSERT_TRUE(store->CreateVideo(NewVideo(VideoStatus::kQueued)).ok());
  });
}

TEST(SqliteWakeTest, AFinishedResumableUploadWakesAWaitingWorker) {
  ExpectAWaitingWorkerIsWoken([](JobStore* store) {
    Video v = NewVideo(VideoStatus::kUploading);
    ASSERT_TRUE(store->CreateVideo(v).ok());
    ASSERT_TRUE(store->MarkUploaded(v.id, 1).ok());
  });
}

}  // namespace
}  // namespace vidproc::queue
