// claim_bench: how many jobs per second N concurrent workers can claim and complete from one
// queue, and whether any job is ever handed out twice.
//
//   claim_bench VIDPROC_DATABASE_URL [--seconds 10] [--workers 1,4,16] [--jobs 20000]
//
// Each worker is a thread with its own store (its own database connection), claiming under its
// own worker id as separate `vidproc worker` processes do, in a loop: ClaimNext then CompleteJob.
// The queue is filled with --jobs queued videos first (so the queue is never empty). Every claimed
// id is recorded; a duplicate is any id claimed twice. The URL is postgres://... or
// sqlite:///PATH (as VIDPROC_DATABASE_URL: sqlite:////absolute/path). Not a test: scripts/test.sh
// does not run it (bench/claim_bench.sh does).
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "queue/postgres_store.h"
#include "queue/sqlite_store.h"

namespace vidproc::queue {
namespace {

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "claim_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<JobStore> Open(const std::string& url) {
  if (url.rfind("sqlite:///", 0) == 0) {
    auto store = SqliteStore::Open(url.substr(10), SystemClock::Default());
    if (!store.ok()) Die("open " + url, store.status());
    return std::move(store).value();
  }
  auto store = PostgresStore::Open(url, SystemClock::Default());
  if (!store.ok()) Die("open the database", store.status());
  return std::move(store).value();
}

struct Round {
  int workers = 0;
  int64_t claims = 0;
  double seconds = 0;
  int64_t duplicates = 0;
  double p99_ms = 0;
};

Round Run(const std::string& url, int workers, double seconds, int jobs) {
  auto filler = Open(url);
  for (int i = 0; i < jobs; ++i) {
    Video v;
    v.id = NewId();
    v.filename = "bench.mp4";
    v.status = VideoStatus::kQueued;
    v.size_bytes = 1;
    if (Status s = filler->CreateVideo(v); !s.ok()) Die("create", s);
  }
  std::vector<std::unique_ptr<JobStore>> stores;
  for (int w = 0; w < workers; ++w) stores.push_back(Open(url));

  std::mutex mutex;
  std::unordered_set<std::string> claimed;
  std::vector<double> latencies_ms;
  int64_t duplicates = 0;
  std::atomic<bool> stop{false};
  // When the last worker stopped: earlier than the deadline if the queue ran dry.
  std::chrono::steady_clock::time_point last_claim{};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      JobStore* store = stores[w].get();
      const std::string worker_id = "bench-" + std::to_string(w);
      std::vector<std::string> mine;
      std::vector<double> lat;
      ready++;
      while (ready < workers) std::this_thread::yield();
      while (!stop) {
        auto t0 = std::chrono::steady_clock::now();
        auto claim = store->ClaimNext(worker_id, 60'000, INT_MAX, std::nullopt);
        if (!claim.ok()) Die("claim", claim.status());
        if (!claim.value()) {  // the queue ran dry: the round ends early, and says so
          std::fprintf(stderr, "claim_bench: the queue ran dry; use a larger --jobs\n");
          break;
        }
        const Claim& c = *claim.value();
        if (Status s = store->CompleteJob(c.video.id, c.lease_token, nullptr, nullptr, false);
            !s.ok()) {
          Die("complete", s);
        }
        lat.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
        mine.push_back(c.video.id);
      }
      std::lock_guard lock(mutex);
      last_claim = std::max(last_claim, std::chrono::steady_clock::now());
      for (auto& id : mine) {
        if (!claimed.insert(id).second) ++duplicates;
      }
      latencies_ms.insert(latencies_ms.end(), lat.begin(), lat.end());
    });
  }
  while (ready < workers) std::this_thread::yield();
  auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  Round r;
  r.workers = workers;
  r.seconds = std::chrono::duration<double>(last_claim - started).count();
  r.claims = static_cast<int64_t>(latencies_ms.size());
  r.duplicates = duplicates;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  if (!latencies_ms.empty()) r.p99_ms = latencies_ms[latencies_ms.size() * 99 / 100];
  return r;
}

}  // namespace
}  // namespace vidproc::queue

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: claim_bench VIDPROC_DATABASE_URL [--seconds S] [--workers 1,4,16] [--jobs N]\n");
    return 2;
  }
  vidproc::SetLogLevel(vidproc::LogLevel::kWarning);
  std::string url = argv[1];
  double seconds = 10;
  int jobs = 20'000;
  std::vector<int> counts = {1, 4, 16};
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--seconds") {
      seconds = std::atof(value.c_str());
    } else if (flag == "--jobs") {
      jobs = std::atoi(value.c_str());
    } else if (flag == "--workers") {
      counts.clear();
      std::stringstream list(value);
      for (std::string n; std::getline(list, n, ',');) counts.push_back(std::atoi(n.c_str()));
    }
  }
  std::printf(
      "| workers | claims/s (claim + complete) | p99 ms | duplicates |\n| --- | --- | --- | --- "
      "|\n");
  for (int n : counts) {
    auto r = vidproc::queue::Run(url, n, seconds, jobs);
    std::printf("| %d | %.0f | %.2f | %lld |\n", r.workers, r.claims / r.seconds, r.p99_ms,
                static_cast<long long>(r.duplicates));
    std::fflush(stdout);
  }
  return 0;
}
