// The commands that work on the queue and storage: worker, enqueue, status, retry, config.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/service_context.h"
#include "cli/wiring.h"
#include "core/log.h"
#include "core/text.h"
#include "queue/video_json.h"
#include "worker/webhook_dispatcher.h"
#include "worker/worker_pool.h"

namespace vidproc::cli {
namespace {}  // namespace

int RunWorker(int argc, char** argv) {
  int code = 0;
  auto ctx =
      Prepare(argc, argv, "worker",
              "Usage: vidproc worker [options]\n\nProcesses queued videos until SIGTERM "
              "or SIGINT; then stops claiming, gives running jobs\n"
              "VIDPROC_SHUTDOWN_GRACE_SECONDS, and puts unfinished ones back in the queue.\n",
              &code);
  if (!ctx) return code;
  RaiseFileLimit();  // jobs (children, pipes, storage connections) get every descriptor allowed
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("worker", store.status());
  auto blobs = OpenBlobStore(ctx->config);
  if (!blobs.ok()) return Fail("worker", blobs.status());
  if (ctx->config.max_tasks == 0) {
    std::fprintf(stderr, "vidproc worker: MAX_VIDEO_PROCESSING_TASKS is 0: nothing to do.\n");
    return kExitUsage;
  }
  // WEBHOOK_URL: this worker's ready/failed transitions go to the outbox, and it sends them.
  std::optional<worker::WebhookDispatcher> webhooks;
  if (!ctx->config.webhook_url.empty()) {
    (*store)->EnableWebhookOutbox(true);
    webhooks.emplace(store->get(), WebhookOptionsFrom(ctx->config), SystemClock::Default());
  }
  worker::WorkerPool pool(store->get(), blobs->get(),
                          WorkerSettingsFrom(ctx->config, MachineCores(), SelfPath()),
                          SystemClock::Default());
  InstallStopSignals();
  pool.Start();
  if (webhooks) webhooks->Start();
  WaitForStopSignal();
  LogInfo("stopping", {{"grace_s", ctx->config.shutdown_grace_s}});
  pool.Stop(int64_t{ctx->config.shutdown_grace_s} * 1000);
  if (webhooks) webhooks->Stop();
  return kExitOk;
}

int RunEnqueue(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "enqueue",
                     "Usage: vidproc enqueue FILE... [options]\n\nStores each file as a new "
                     "video's original and queues it; prints one id per line.\n",
                     &code);
  if (!ctx) return code;
  if (ctx->args.positional().empty()) {
    std::fprintf(stderr, "vidproc enqueue: name at least one file.\n");
    return kExitUsage;
  }
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("enqueue", store.status());
  auto blobs = OpenBlobStore(ctx->config);
  if (!blobs.ok()) return Fail("enqueue", blobs.status());
  for (const std::string& file : ctx->args.positional()) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Fail("enqueue", Status(ErrorCode::kInputNotFound, file + " is not a readable file."));
    }
    queue::Video video;
    video.id = NewId();
    video.status = queue::VideoStatus::kUploading;
    video.filename = SanitizeFilename(file);
    // Recorded first, stored second, queued last: a crash in between leaves an "uploading"
    // record, never a queued job without its file.
    Status s = (*store)->CreateVideo(video);
    if (s.ok()) {
      s = (*blobs)->PutFile(storage::OriginalKey(video.id), file, "application/octet-stream");
    }
    if (s.ok()) s = (*store)->MarkUploaded(video.id, st.st_size);
    if (!s.ok()) return Fail("enqueue", s);
    LogInfo("queued", {{"video", video.id}, {"filename", video.filename}, {"bytes", st.st_size}});
    std::printf("%s\n", video.id.c_str());
  }
  return kExitOk;
}

int RunStatus(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "status",
                     "Usage: vidproc status [ID] [options]\n\nWith an id: that video as JSON. "
                     "Without: the queue's counts and the newest videos.\n",
                     &code);
  if (!ctx) return code;
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("status", store.status());
  if (!ctx->args.positional().empty()) {
    auto video = (*store)->GetVideo(ctx->args.positional()[0]);
    if (!video.ok()) return Fail("status", video.status());
    std::printf("%s\n", DumpJson(queue::ToApiJson(video.value()), 2).c_str());
    return kExitOk;
  }
  auto counts = (*store)->Counts();
  if (!counts.ok()) return Fail("status", counts.status());
  auto page = (*store)->ListVideos(std::nullopt, 20, "");
  if (!page.ok()) return Fail("status", page.status());
  nlohmann::json out = {{"uploading", counts->uploading},   {"queued", counts->queued},
                        {"processing", counts->processing}, {"ready", counts->ready},
                        {"failed", counts->failed},         {"videos", nlohmann::json::array()}};
  for (const auto& v : page->videos) out["videos"].push_back(queue::ToApiJson(v));
  out["workers"] = nlohmann::json::array();
  if (auto workers = (*store)->ListWorkers(60'000); workers.ok()) {
    for (const auto& w : workers.value()) {
      out["workers"].push_back(queue::ToApiJson(w));
    }
  }
  std::printf("%s\n", DumpJson(out, 2).c_str());
  return kExitOk;
}

int RunRetry(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "retry",
                     "Usage: vidproc retry ID [options]\n\nQueues a failed video again (its "
                     "original was kept).\n",
                     &code);
  if (!ctx) return code;
  if (ctx->args.positional().size() != 1) {
    std::fprintf(stderr, "vidproc retry: name one video id.\n");
    return kExitUsage;
  }
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("retry", store.status());
  Status s = (*store)->RetryVideo(ctx->args.positional()[0]);
  if (!s.ok()) return Fail("retry", s);
  std::printf("%s\n", ctx->args.positional()[0].c_str());
  return kExitOk;
}

int RunMigrate(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "migrate",
                     "Usage: vidproc migrate [options]\n\nBrings the job database "
                     "(VIDPROC_DATABASE_URL) to this version's schema and exits. Every command\n"
                     "does the same when it opens the database (under an advisory lock on "
                     "PostgreSQL);\nrun this first to migrate before starting new versions.\n",
                     &code);
  if (!ctx) return code;
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("migrate", store.status());
  std::printf("The database schema is up to date.\n");
  return kExitOk;
}

int RunConfig(int argc, char** argv) {
  int code = 0;
  static const std::string settings_help = "\n" + SettingsHelp();
  ExtraOptions extra;
  extra.flags = {"--markdown"};
  extra.help = "\n  --markdown           print the settings tables of docs/CONFIGURATION.md\n";
  extra.footer = settings_help.c_str();
  auto ctx = Prepare(argc, argv, "config",
                     "Usage: vidproc config [options]\n\nPrints the effective configuration "
                     "(defaults < .env < environment < flags), secrets masked.\n",
                     &code, extra);
  if (!ctx) return code;
  if (ctx->args.has("--markdown")) {
    std::fputs(SettingsMarkdown().c_str(), stdout);
    return kExitOk;
  }
  std::printf("%s\n", DumpJson(ctx->config.ToJson(), 2).c_str());
  return kExitOk;
}

int RunStorage(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "storage",
                     "Usage: vidproc storage put FILE KEY | get KEY FILE | ls [PREFIX] | rm KEY | "
                     "url KEY [options]\n\nWorks on the configured store (local disk, or the "
                     "bucket when USE_SPACES=True):\ncopy a file in or out, list keys, delete "
                     "one, or print where a client can fetch it\n(a presigned URL on S3, valid "
                     "one hour).\n",
                     &code);
  if (!ctx) return code;
  const auto& p = ctx->args.positional();
  auto usage = [] {
    std::fprintf(stderr, "vidproc storage: see `vidproc storage --help`.\n");
    return kExitUsage;
  };
  if (p.empty()) return usage();
  auto blobs = OpenBlobStore(ctx->config);
  if (!blobs.ok()) return Fail("storage", blobs.status());
  storage::BlobStore& store = **blobs;
  Status s;
  if (p[0] == "put" && p.size() == 3) {
    s = store.PutFile(p[2], p[1], "application/octet-stream");
  } else if (p[0] == "get" && p.size() == 3) {
    s = store.GetFile(p[1], p[2]);
  } else if (p[0] == "ls" && p.size() <= 2) {
    auto keys = store.List(p.size() == 2 ? p[1] : "");
    if (!keys.ok()) return Fail("storage", keys.status());
    for (const auto& k : keys.value()) std::printf("%s\n", k.c_str());
  } else if (p[0] == "rm" && p.size() == 2) {
    s = store.Delete(p[1]);
  } else if (p[0] == "url" && p.size() == 2) {
    auto where = store.Locate(p[1], 3600);
    if (!where.ok()) return Fail("storage", where.status());
    std::printf("%s\n", where->presigned_url.empty() ? where->local_path.c_str()
                                                     : where->presigned_url.c_str());
  } else {
    return usage();
  }
  if (!s.ok()) return Fail("storage", s);
  return kExitOk;
}

}  // namespace vidproc::cli
