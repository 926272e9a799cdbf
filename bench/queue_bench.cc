// queue_bench: how many jobs per second the job store can move through the queue.
//
// Every benchmark runs on a real SqliteStore (WAL journal, synchronous=FULL: exactly what
// production opens) in a fresh directory under $TMPDIR (default /tmp), so every commit is a real
// fsync on that disk. Point TMPDIR at the disk the production database lives on; on a tmpfs the
// fsyncs cost nothing and the numbers mean nothing (the run's context says which file system).
//
//   BM_FullCycle/threads:1    (a) one job's whole life in the store: CreateVideo(kUploading),
//                                 MarkUploaded, ClaimNext, CompleteJob
//   BM_ClaimComplete          (b) ClaimNext + CompleteJob alone, on a queue pre-filled with 10,000
//                                 jobs (topped up, timing paused, whenever it falls below 9,000)
//   BM_FullCycle/threads:4    (c) (a) with 4 threads sharing one store, as a worker's slots do
//
// items_per_second is cycles per second (all threads together); time is real (wall) time per
// cycle per thread. Not a test: scripts/test.sh does not run it. See bench/README.md.
#include <benchmark/benchmark.h>
#include <linux/magic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/statfs.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "queue/sqlite_store.h"

namespace vidproc::queue {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kLeaseMs = 30'000;
constexpr int kNoCap = INT_MAX;  // ClaimNext's max_processing: the cap is not what is measured
constexpr int kPrefill = 10'000;
constexpr int kRefillBelow = 9'000;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "queue_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// A fresh directory under $TMPDIR, removed with its contents when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "vidproc-queue-bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("queue_bench: mkdtemp");
      std::exit(1);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string db() const { return path_ + "/vidproc.db"; }

 private:
  std::string path_;
};

std::unique_ptr<SqliteStore> OpenStore(const std::string& db) {
  auto store = SqliteStore::Open(db, SystemClock::Default());
  if (!store.ok()) Die("cannot open " + db, store.status());
  return std::move(store).value();
}

// What the engine reports for a 1080p phone clip: stored with every completed job, so the
// benchmark writes rows of production size.
const nlohmann::json& SourceJson() {
  static const nlohmann::json j = nlohmann::json::parse(R"({
    "audio": [{"bit_rate": 96291, "channels": 2, "codec": "aac", "default": true, "index": 1,
               "profile": "LC", "sample_rate": 48000, "selected": true}],
    "bit_rate": 14711715, "container": "mov", "data_streams": 0, "duration_estimated": false,
    "duration_s": 1.6, "size_bytes": 2942343, "stream_count": 2, "subtitle_streams": 0,
    "video": {"bit_depth": 8, "bit_rate": 13274444, "codec": "h264", "color_primaries": "bt709",
              "color_space": "bt709", "color_transfer": "bt709", "display_height": 1080,
              "display_width": 1920, "duration_s": 1.6, "frame_rate": 30.01, "hdr": false,
              "height": 1080, "index": 0, "interlaced": false, "pixel_format": "yuv420p",
              "profile": "High", "rotation": 0, "sample_aspect_ratio": "1:1", "width": 1920}})");
  return j;
}

const nlohmann::json& OutputJson() {
  static const nlohmann::json j = nlohmann::json::parse(R"({
    "audio_bitrate_kbps": 128, "audio_codec": "aac", "duration_s": 1.6, "height": 720,
    "passthrough": false, "size_bytes": 301234, "video_bitrate_kbps": 1500,
    "video_codec": "h264", "width": 1280})");
  return j;
}

bool Ok(benchmark::State& state, const Status& s, const char* what) {
  if (s.ok()) return true;
  state.SkipWithError((std::string(what) + ": " + s.ToString()).c_str());
  return false;
}

// Claims the oldest due job and completes it, as a worker slot does around a transcode.
bool ClaimAndComplete(benchmark::State& state, JobStore& store, const std::string& worker) {
  auto claim = store.ClaimNext(worker, kLeaseMs, kNoCap, std::nullopt);
  if (!claim.ok()) return Ok(state, claim.status(), "ClaimNext");
  if (!claim.value()) {
    state.SkipWithError("ClaimNext found the queue empty");
    return false;
  }
  const Claim& c = *claim.value();
  return Ok(state, store.CompleteJob(c.video.id, c.lease_token, SourceJson(), OutputJson(), false),
            "CompleteJob");
}

// One job's whole life in the store, as `vidproc enqueue` and a worker slot drive it.
bool FullCycle(benchmark::State& state, JobStore& store, const std::string& worker) {
  Video v;
  v.id = NewId();
  v.status = VideoStatus::kUploading;
  v.filename = "VID_20191220_170832.mp4";
  if (!Ok(state, store.CreateVideo(v), "CreateVideo")) return false;
  if (!Ok(state, store.MarkUploaded(v.id, 2942343), "MarkUploaded")) return false;
  return ClaimAndComplete(state, store, worker);
}

Status AddQueued(JobStore& store, int n) {
  for (int i = 0; i < n; ++i) {
    Video v;
    v.id = NewId();
    v.status = VideoStatus::kQueued;
    v.filename = "prefilled.mp4";
    v.size_bytes = 2942343;
    RETURN_IF_ERROR(store.CreateVideo(v));
  }
  return Status::Ok();
}

// (a) and (c). Thread 0 sets up and tears down; Google Benchmark holds the other threads at the
// loop's start and end, so the store exists for as long as any thread uses it.
std::unique_ptr<TempDir> g_dir;
std::unique_ptr<SqliteStore> g_store;

void BM_FullCycle(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_dir = std::make_unique<TempDir>();
    g_store = OpenStore(g_dir->db());
  }
  const std::string worker = "bench:" + std::to_string(state.thread_index());
  for (auto _ : state) {
    if (!FullCycle(state, *g_store, worker)) break;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    g_store.reset();
    g_dir.reset();
  }
}
BENCHMARK(BM_FullCycle)->Threads(1)->Threads(4)->UseRealTime()->MinTime(3.0);

// (b). Filling 10,000 jobs (one fsync each) for every run Google Benchmark makes would cost more
// than the measurement, so a template database is filled once and copied for each run.
const TempDir& PrefilledTemplate() {
  static const TempDir dir;  // removed at exit
  static const bool filled = [](const TempDir& d) {
    auto store = OpenStore(d.db());
    Status s = AddQueued(*store, kPrefill);
    if (!s.ok()) Die("cannot pre-fill the queue", s);
    return true;  // the store closes here: checkpointed into one self-contained file
  }(dir);
  (void)filled;
  return dir;
}

void BM_ClaimComplete(benchmark::State& state) {
  TempDir dir;
  std::error_code ec;
  fs::copy_file(PrefilledTemplate().db(), dir.db(), ec);
  if (ec) {
    state.SkipWithError(("cannot copy the template database: " + ec.message()).c_str());
    return;
  }
  auto store = OpenStore(dir.db());
  int queued = kPrefill;
  for (auto _ : state) {
    if (queued < kRefillBelow) {
      state.PauseTiming();
      bool added = Ok(state, AddQueued(*store, kPrefill - queued), "refill");
      state.ResumeTiming();
      if (!added) break;
      queued = kPrefill;
    }
    if (!ClaimAndComplete(state, *store, "bench:0")) break;
    --queued;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClaimComplete)->UseRealTime()->MinTime(3.0);

std::string FileSystemOf(const std::string& path, bool* is_tmpfs) {
  struct statfs st {};
  *is_tmpfs = false;
  if (statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case TMPFS_MAGIC: *is_tmpfs = true; return "tmpfs";
    case EXT4_SUPER_MAGIC: return "ext2/3/4";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(st.f_type));
      return hex;
    }
  }
}

}  // namespace
}  // namespace vidproc::queue

int main(int argc, char** argv) {
  using namespace vidproc::queue;
  vidproc::SetLogLevel(vidproc::LogLevel::kWarning);  // no "database migrated" per run
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string tmp = fs::temp_directory_path().string();
  bool is_tmpfs = false;
  std::string fs_name = FileSystemOf(tmp, &is_tmpfs);
  benchmark::AddCustomContext("store_dir", tmp + " (" + fs_name + ")");
  benchmark::AddCustomContext(
      "sqlite", std::string(sqlite3_libversion()) + ", WAL, synchronous=FULL (SqliteStore::Open)");
  if (is_tmpfs) {
    std::fprintf(stderr,
                 "queue_bench: warning: %s is a tmpfs, where fsync costs nothing; set TMPDIR to "
                 "a directory on the production database's disk.\n",
                 tmp.c_str());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
