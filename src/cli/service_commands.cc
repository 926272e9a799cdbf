// The commands that work on the queue and storage: worker, enqueue, status, retry, config.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/service_context.h"
#include "cli/wiring.h"
#include "core/log.h"
#include "core/text.h"
#include "queue/sqlite_store.h"
#include "queue/video_json.h"
#include "worker/webhook_dispatcher.h"
#include "worker/worker_pool.h"

namespace vidproc::cli {
namespace {

// Records, stores and queues one file; prints its id.
Status EnqueueFile(queue::JobStore& store, storage::BlobStore& blobs, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kInputNotFound, "not a readable file");
  }
  queue::Video video;
  video.id = NewId();
  video.status = queue::VideoStatus::kUploading;
  video.filename = SanitizeFilename(file);
  // Recorded first, stored second, queued last: a crash in between leaves an "uploading"
  // record, never a queued job without its file.
  RETURN_IF_ERROR(store.CreateVideo(video));
  RETURN_IF_ERROR(blobs.PutFile(storage::OriginalKey(video.id), file, "application/octet-stream"));
  RETURN_IF_ERROR(store.MarkUploaded(video.id, st.st_size));
  LogInfo("queued", {{"video", video.id}, {"filename", video.filename}, {"bytes", st.st_size}});
  std::printf("%s\n", video.id.c_str());
  std::fflush(stdout);
  return Status::Ok();
}

// A JSON scalar as a person reads it: strings without quotes, null as "-".
std::string Plain(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return SanitizeText(v.get<std::string>());
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v.get<double>());
    return buf;
  }
  return DumpJson(v);
}

// `text` cut or padded to `width` characters (code points).
std::string Column(const std::string& text, size_t width) {
  std::string out;
  size_t shown = 0;
  for (size_t i = 0; i < text.size() && shown < width;) {
    size_t length = DecodeUtf8(std::string_view(text).substr(i)).length;
    length = std::max<size_t>(length, 1);
    if (shown + 1 == width && i + length < text.size()) {
      out += "~";  // more follows
    } else {
      out.append(text, i, length);
    }
    i += length;
    ++shown;
  }
  return out + std::string(width - shown + 1, ' ');
}

// One video as "field: value" lines; objects one level deep, deeper values as compact JSON.
std::string VideoText(const nlohmann::json& video) {
  std::string out;
  // Who and where first; the rest in the API's (alphabetical) order.
  nlohmann::json ordered = nlohmann::json::array();
  for (const char* key : {"id", "status", "filename"}) {
    if (video.contains(key)) ordered.push_back({key, video[key]});
  }
  for (const auto& [key, value] : video.items()) {
    if (key != "id" && key != "status" && key != "filename") ordered.push_back({key, value});
  }
  for (const auto& pair : ordered) {
    const std::string key = pair[0].get<std::string>();
    const nlohmann::json& value = pair[1];
    if (!value.is_object()) {
      out += key + ": " + Plain(value) + "\n";
      continue;
    }
    out += key + ":\n";
    for (const auto& [inner, inner_value] : value.items()) {
      out += "  " + inner + ": " +
             (inner_value.is_structured() ? DumpJson(inner_value) : Plain(inner_value)) + "\n";
    }
  }
  return out;
}

// The queue as `vidproc status` shows it on a terminal.
std::string QueueText(const nlohmann::json& q) {
  std::string out = "Queue: " + Plain(q["waiting_for_upload"]) + " waiting for upload, " +
                    Plain(q["uploading"]) + " uploading, " + Plain(q["queued"]) + " queued, " +
                    Plain(q["processing"]) + " processing, " + Plain(q["ready"]) + " ready, " +
                    Plain(q["failed"]) + " failed\n";
  out += "Workers seen in the last minute: " + std::to_string(q["workers"].size()) + "\n";
  for (const auto& w : q["workers"]) {
    out += "  " + Plain(w.value("id", nlohmann::json())) + "  " +
           Plain(w.value("slots", nlohmann::json())) + " slots  version " +
           Plain(w.value("version", nlohmann::json())) + "\n";
  }
  if (q["videos"].empty()) return out + "No videos.\n";
  out += "\nNewest videos:\n";
  out += Column("ID", 26) + Column("STATUS", 10) + Column("PROGRESS", 8) + Column("CREATED", 20) +
         "FILENAME / ERROR\n";
  for (const auto& v : q["videos"]) {
    std::string status = Plain(v.value("status", nlohmann::json()));
    std::string progress = "-";
    if (v.contains("progress") && v["progress"].is_number()) {
      progress = std::to_string(static_cast<int>(v["progress"].get<double>() * 100 + 0.5)) + "%";
    }
    std::string detail = Plain(v.value("filename", nlohmann::json()));
    if (v.contains("error") && v["error"].is_object()) {
      detail += "  (" + Plain(v["error"].value("code", nlohmann::json())) + ")";
    }
    out += Column(Plain(v.value("id", nlohmann::json())), 26) + Column(status, 10) +
           Column(progress, 8) + Column(Plain(v.value("created_at", nlohmann::json())), 20) +
           SanitizeText(detail, 200) + "\n";
  }
  return out;
}

}  // namespace

int RunWorker(int argc, char** argv) {
  int code = 0;
  ExtraOptions extra;
  extra.runs_jobs = true;
  auto ctx =
      Prepare(argc, argv, "worker",
              "Usage: vidproc worker [options]\n\nProcesses queued videos until SIGTERM "
              "or SIGINT; then stops claiming, gives running jobs\n"
              "VIDPROC_SHUTDOWN_GRACE_SECONDS, and puts unfinished ones back in the queue.\n",
              &code, extra);
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
                     "video's original and queues it; prints one id per line. A file\nthat "
                     "cannot be queued is named on stderr and the others are still queued;\n"
                     "the exit status is then non-zero.\n",
                     &code);
  if (!ctx) return code;
  if (ctx->args.positional().empty()) return UsageError("enqueue", "missing FILE");
  auto store = OpenJobStore(ctx->config);
  if (!store.ok()) return Fail("enqueue", store.status());
  auto blobs = OpenBlobStore(ctx->config);
  if (!blobs.ok()) return Fail("enqueue", blobs.status());
  int failures = 0;
  Status last_failure;
  for (const std::string& file : ctx->args.positional()) {
    Status s = EnqueueFile(**store, **blobs, file);
    if (!s.ok()) {
      ++failures;
      last_failure = s;
      std::fprintf(stderr, "vidproc enqueue: %s: %s\n", SanitizeText(file).c_str(),
                   s.ToString().c_str());
    }
  }
  if (failures == 0) return kExitOk;
  if (ctx->args.positional().size() > 1) {
    std::fprintf(stderr, "vidproc enqueue: %d of %zu files not queued.\n", failures,
                 ctx->args.positional().size());
  }
  return ExitCodeFor(last_failure) == kExitInputRefused ? kExitFailed : ExitCodeFor(last_failure);
}

int RunStatus(int argc, char** argv) {
  int code = 0;
  ExtraOptions extra;
  extra.flags = {"--json"};
  extra.help = "\n  --json               JSON even on a terminal (the output when piped)\n";
  auto ctx = Prepare(argc, argv, "status",
                     "Usage: vidproc status [ID] [options]\n\nWith an id: that video. Without: "
                     "the queue's counts, the workers and the newest videos.\n"
                     "A table on a terminal, JSON otherwise.\n",
                     &code, extra);
  if (!ctx) return code;
  if (ctx->args.positional().size() > 1) return UsageError("status", "name at most one video id");
  const bool json = ctx->args.has("--json") || !isatty(STDOUT_FILENO);
  auto store = OpenJobStore(ctx->config, StoreOpening::kExistingOnly);
  if (!store.ok()) return Fail("status", store.status());
  if (!ctx->args.positional().empty()) {
    auto video = (*store)->GetVideo(ctx->args.positional()[0]);
    if (!video.ok()) return Fail("status", video.status());
    nlohmann::json rendered = queue::ToApiJson(video.value());
    std::fputs(json ? (DumpJson(rendered, 2) + "\n").c_str() : VideoText(rendered).c_str(), stdout);
    return kExitOk;
  }
  auto counts = (*store)->Counts();
  if (!counts.ok()) return Fail("status", counts.status());
  auto page = (*store)->ListVideos({}, 20, "");
  if (!page.ok()) return Fail("status", page.status());
  nlohmann::json out = {{"waiting_for_upload", counts->waiting_for_upload},
                        {"uploading", counts->uploading},
                        {"queued", counts->queued},
                        {"processing", counts->processing},
                        {"ready", counts->ready},
                        {"failed", counts->failed},
                        {"videos", nlohmann::json::array()}};
  for (const auto& v : page->videos) out["videos"].push_back(queue::ToApiJson(v));
  out["workers"] = nlohmann::json::array();
  if (auto workers = (*store)->ListWorkers(60'000); workers.ok()) {
    for (const auto& w : workers.value()) {
      out["workers"].push_back(queue::ToApiJson(w));
    }
  }
  std::fputs(json ? (DumpJson(out, 2) + "\n").c_str() : QueueText(out).c_str(), stdout);
  return kExitOk;
}

int RunRetry(int argc, char** argv) {
  int code = 0;
  auto ctx = Prepare(argc, argv, "retry",
                     "Usage: vidproc retry ID [options]\n\nQueues a failed video again (its "
                     "original was kept).\n",
                     &code);
  if (!ctx) return code;
  if (ctx->args.positional().empty()) return UsageError("retry", "missing ID");
  if (ctx->args.positional().size() > 1) return UsageError("retry", "name one video id");
  auto store = OpenJobStore(ctx->config, StoreOpening::kExistingOnly);
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
  extra.runs_jobs = true;
  extra.flags = {"--markdown", "--env-file-template"};
  extra.help =
      "\n  --markdown           print the settings tables of docs/CONFIGURATION.md\n"
      "  --env-file-template  print an env file with every setting and its default, commented\n"
      "                       out (the --data-dir given is set in it)\n";
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
  if (ctx->args.has("--env-file-template")) {
    std::map<std::string, std::string> values;
    if (auto dir = ctx->args.get("--data-dir")) values["VIDPROC_DATA_DIR"] = *dir;
    std::fputs(SettingsEnvFile(values).c_str(), stdout);
    return kExitOk;
  }
  std::printf("%s\n", DumpJson(ctx->config.ToJson(), 2).c_str());
  return kExitOk;
}

int RunBackup(int argc, char** argv) {
  int code = 0;
  ExtraOptions extra;
  extra.flags = {"--overwrite"};
  extra.help = "\n  -y, --overwrite      replace DIR/vidproc.db if it exists\n";
  auto ctx = Prepare(argc, argv, "backup",
                     "Usage: vidproc backup DIR [options]\n\nCopies the SQLite job database to "
                     "DIR/vidproc.db with SQLite's online backup API: a\nconsistent snapshot, "
                     "taken while the service keeps running. DIR can then serve as a\n"
                     "data directory (vidproc status --data-dir DIR). Stored files are not "
                     "copied: see\ndocs/DEPLOY.md. With PostgreSQL, use pg_dump.\n",
                     &code, extra);
  if (!ctx) return code;
  if (ctx->args.positional().empty()) return UsageError("backup", "missing DIR");
  if (ctx->args.positional().size() > 1) return UsageError("backup", "name one directory");
  const std::string source = ctx->config.SqlitePath();
  if (source.empty()) {
    return Fail("backup", Status(ErrorCode::kInvalidConfig,
                                 "The job database is PostgreSQL: back it up with pg_dump."));
  }
  // Opening the store would create an empty database and back that up.
  if (Status s = CheckSqliteDatabaseExists(ctx->config); !s.ok()) return Fail("backup", s);
  std::error_code ec;
  const std::string dir = ctx->args.positional()[0];
  const std::string destination = dir + "/vidproc.db";
  std::filesystem::create_directories(dir, ec);
  if (std::filesystem::equivalent(source, destination, ec)) {
    return Fail("backup",
                Status(ErrorCode::kInvalidArgument, destination + " is the database itself."));
  }
  if (std::filesystem::exists(destination, ec) && !ctx->args.has("--overwrite")) {
    return Fail("backup", Status(ErrorCode::kInvalidArgument,
                                 destination + " exists; pass -y (--overwrite) to replace it."));
  }
  if (Status s = queue::BackupSqliteDatabase(source, destination); !s.ok()) {
    return Fail("backup", s);
  }
  std::printf("%s\n", destination.c_str());
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
  auto usage = [&p] {
    if (p.empty()) return UsageError("storage", "missing the action (put, get, ls, rm or url)");
    static const std::map<std::string, std::string> kArguments = {{"put", "FILE KEY"},
                                                                  {"get", "KEY FILE"},
                                                                  {"ls", "[PREFIX]"},
                                                                  {"rm", "KEY"},
                                                                  {"url", "KEY"}};
    auto known = kArguments.find(p[0]);
    if (known == kArguments.end()) {
      std::vector<std::string> actions;
      for (const auto& [action, arguments] : kArguments) actions.push_back(action);
      std::string suggestion = ClosestName(p[0], actions);
      return UsageError("storage",
                        "unknown action '" + SanitizeText(p[0], 100) + "'" +
                            (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)"));
    }
    return UsageError("storage", "'storage " + p[0] + "' takes " + known->second);
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
