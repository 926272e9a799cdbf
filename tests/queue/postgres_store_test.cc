// PostgresStore against a real PostgreSQL server (initdb'd and started on 127.0.0.1 by
// scripts/pg-test-server.sh as a ctest fixture): the JobStore conformance suite, plus a claim
// race between many connections, as many workers make it.
#include "queue/postgres_store.h"

#include <libpq-fe.h>

#include <fstream>
#include <map>
#include <memory>

#include "job_store_conformance.h"
#include "queue/store_common.h"
#include "support/server_env.h"

namespace vidproc::queue {
namespace {

std::string ServerUrl() {
  return vidproc::testing::ReadServerEnv(VIDPROC_PG_ENV_FILE)["PG_TEST_URL"];
}

// Every test gets empty tables: the suite's tests each expect a fresh store.
struct PostgresFactory {
  PostgresFactory() {
    auto store = PostgresStore::Open(ServerUrl(), SystemClock::Default());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) {
      // Delete every video: listing and deleting through the interface keeps this honest.
      for (;;) {
        auto page = store.value()->ListVideos({}, 500, "");
        if (!page.ok() || page->videos.empty()) break;
        for (const auto& v : page->videos) (void)store.value()->DeleteVideo(v.id);
      }
      // Settle every pending webhook delivery (given up), so none is claimed by the next test.
      // The suite's ManualClock starts in 2023: every row it wrote is due and unleased by now.
      for (;;) {
        auto due = store.value()->ClaimWebhookDeliveries(500, 60'000);
        if (!due.ok() || due->empty()) break;
        for (const auto& d : due.value()) {
          (void)store.value()->GiveUpWebhook(d.id, d.lease_token, "test clean-up");
        }
      }
    }
  }
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    auto store = PostgresStore::Open(ServerUrl(), clock);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
};

using PostgresStores = ::testing::Types<PostgresFactory>;

TEST(PostgresClaimRaceTest, ManyWorkersClaimingAtOnceNeverShareAJob) {
  PostgresFactory clean;
  auto seed = clean.Open(SystemClock::Default());
  constexpr int kJobs = 200;
  for (int i = 0; i < kJobs; ++i) {
    Video v;
    v.id = NewId();
    v.filename = "race";
    ASSERT_TRUE(seed->CreateVideo(v).ok());
  }
  // 16 workers, each with its own connection, claiming as fast as they can.
  std::mutex m;
  std::vector<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      auto store = clean.Open(SystemClock::Default());
      for (;;) {
        auto c = store->ClaimNext("worker-" + std::to_string(w), 60'000, 1'000, std::nullopt);
        ASSERT_TRUE(c.ok()) << c.status().ToString();
        if (!c.value()) break;
        std::lock_guard lock(m);
        claimed.push_back(c.value()->video.id);
      }
    });
  }
  for (auto& t : workers) t.join();
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(unique.size(), claimed.size()) << "a job was claimed twice";
}

TEST(PostgresStoreTest, TwoNodesMigratingAtOnceDoNotRace) {
  std::vector<std::thread> nodes;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    nodes.emplace_back([&] {
      if (PostgresStore::Open(ServerUrl(), SystemClock::Default()).ok()) ++ok;
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(ok.load(), 4);
}

// /metrics reads the webhook backlog on every scrape: the query can be answered from the index of
// undelivered rows (the planner picks it once delivered rows dominate; sequential scans are
// switched off here because the test table is too small to show that).
TEST(PostgresStoreTest, TheBacklogQueryCanUseTheUndeliveredIndex) {
  PostgresFactory clean;
  ASSERT_NE(clean.Open(SystemClock::Default()), nullptr);  // migrated
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(ServerUrl().c_str()), PQfinish);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;
  Result off(PQexec(conn.get(), "SET enable_seqscan = off"), PQclear);
  ASSERT_EQ(PQresultStatus(off.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn.get());
  const std::string sql = "EXPLAIN " + std::string(store_util::kWebhookBacklogQuery);
  Result plan(PQexec(conn.get(), sql.c_str()), PQclear);
  ASSERT_EQ(PQresultStatus(plan.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  std::string text;
  for (int i = 0; i < PQntuples(plan.get()); ++i)
    text += PQgetvalue(plan.get(), i, 0) + std::string("\n");
  EXPECT_NE(text.find("webhook_outbox_undelivered"), std::string::npos) << text;
}

TEST(PostgresStoreTest, AWrongServerIsAClearDatabaseError) {
  auto store = PostgresStore::Open("postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
                                   SystemClock::Default());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kDatabaseError);
  EXPECT_NE(store.status().message().find("Cannot connect to PostgreSQL"), std::string::npos);
}

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, JobStoreTest, PostgresStores);
}  // namespace testing

}  // namespace vidproc::queue

namespace vidproc::queue {
namespace {

TEST(PostgresNotifyTest, AnIdleWorkerIsWokenAsSoonAsAJobIsQueued) {
  PostgresFactory clean;
  auto worker = clean.Open(SystemClock::Default());
  auto uploader = clean.Open(SystemClock::Default());
  // Also makes the worker listen: from here on a NOTIFY reaches it whether it is already
  // waiting or about to (the connection keeps it).
  EXPECT_FALSE(worker->WaitForJobs(200)) << "nothing happened, yet it woke";
  std::atomic<bool> woken{false};
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point woke_at;
  std::thread waiter([&] {
    woken = worker->WaitForJobs(10'000);
    woke_at = std::chrono::steady_clock::now();
  });
  Video v;
  v.id = NewId();
  v.filename = "notify";
  v.status = VideoStatus::kUploading;
  ASSERT_TRUE(uploader->CreateVideo(v).ok());
  ASSERT_TRUE(uploader->MarkUploaded(v.id, 1).ok());
  waiter.join();
  EXPECT_TRUE(woken.load());
  EXPECT_LT(std::chrono::duration<double>(woke_at - started).count(), 2.0)
      << "woken by the notification, not by the timeout";
}

// The database restarts under a running store: calls fail while it is down, then the store
// reconnects by itself and nothing committed is lost (fsync is on).
TEST(PostgresRestartTest, TheStoreReconnectsAndNothingIsLost) {
  PostgresFactory clean;
  auto store = clean.Open(SystemClock::Default());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    Video v;
    v.id = NewId();
    v.filename = "restart";
    ASSERT_TRUE(store->CreateVideo(v).ok());
    ids.push_back(v.id);
  }
  auto claim = store->ClaimNext("w", 60'000, 5, std::nullopt);
  ASSERT_TRUE(claim.ok() && claim.value());

  std::string dir = vidproc::testing::ReadServerEnv(VIDPROC_PG_ENV_FILE)["PG_TEST_DIR"];
  ASSERT_EQ(std::system(
                (std::string(VIDPROC_PG_SCRIPT) + " restart " + dir + " >/dev/null 2>&1").c_str()),
            0);
  // The first call after the restart may fail (the old connection is gone); within a few
  // seconds calls succeed again, on a new connection.
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = store->Counts().ok();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(back) << "the store did not reconnect";
  auto counts = store->Counts().value();
  EXPECT_EQ(counts.queued, 19);
  EXPECT_EQ(counts.processing, 1);
  // The lease survived too: the holder completes its job.
  EXPECT_TRUE(store
                  ->CompleteJob(claim.value()->video.id, claim.value()->lease_token, nullptr,
                                nullptr, false)
                  .ok());
}

}  // namespace
}  // namespace vidproc::queue
