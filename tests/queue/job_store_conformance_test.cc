#include "job_store_conformance.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <sqlite3.h>

#include "core/ids.h"

#include "queue/fault_injecting_job_store.h"
#include "queue/sqlite_store.h"
#include "queue/store_common.h"

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
  // Each outlives its wrapper: kept until the factory goes, after the suite's stores.
  std::vector<std::unique_ptr<JobStore>> targets;
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    targets.push_back(sqlite.Open(clock));
    return std::make_unique<FaultInjectingJobStore>(targets.back().get());
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

// /metrics reads the webhook backlog on every scrape: the query must read the undelivered rows
// through their index, never the whole history of delivered events.
TEST(SqliteBacklogTest, TheBacklogQueryReadsOnlyTheUndeliveredIndex) {
  SqliteFactory db;
  ASSERT_NE(db.Open(SystemClock::Default()), nullptr);  // migrated
  sqlite3* opened = nullptr;
  const int rc = sqlite3_open((db.dir + "/jobs.db").c_str(), &opened);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> raw(opened, sqlite3_close);
  ASSERT_EQ(rc, SQLITE_OK);
  const std::string sql = "EXPLAIN QUERY PLAN " + std::string(store_util::kWebhookBacklogQuery);
  sqlite3_stmt* prepared = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw.get(), sql.c_str(), -1, &prepared, nullptr), SQLITE_OK)
      << sqlite3_errmsg(raw.get());
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> plan(prepared, sqlite3_finalize);
  std::string details;
  while (sqlite3_step(plan.get()) == SQLITE_ROW) {
    details += reinterpret_cast<const char*>(sqlite3_column_text(plan.get(), 3));
    details += "\n";
  }
  EXPECT_NE(details.find("USING INDEX webhook_outbox_undelivered"), std::string::npos) << details;
}

}  // namespace
}  // namespace vidproc::queue
