// `vidproc serve`: the HTTP API, the web page and (unless --workers 0) the worker slots in one
// process, on the configured database and storage.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/service_context.h"
#include "cli/wiring.h"
#include "core/log.h"
#include "core/loop_guard.h"
#include "core/units.h"
#include "http/api.h"
#include "http/server.h"
#include "worker/webhook_dispatcher.h"
#include "worker/worker_pool.h"

namespace vidproc::cli {
namespace {

constexpr const char* kHelp =
    "Usage: vidproc serve [options]\n\n"
    "Serves the HTTP API and the web page, and processes queued videos with the worker\n"
    "slots, until SIGTERM or SIGINT. See docs/API.md.\n";

// The defaults come from the settings table (core/config.cc).
const std::string& ServeOptionsHelp() {
  static const std::string help =
      "\n  --listen HOST:PORT   VIDPROC_LISTEN: where to listen (default " +
      SettingDefaultText("VIDPROC_LISTEN") +
      "; port 0: any)\n"
      "  --port-file FILE     write the port to FILE once listening\n"
      "  --insecure-no-auth   without VIDPROC_API_TOKEN, serve other machines and requests\n"
      "                       through proxies too (something in front must authenticate)\n"
      "  (--workers 0: an API-only node)\n";
  return help;
}

constexpr int64_t kExpirySweepMs = 10 * 60 * 1000;

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

const char* OutcomeName(worker::JobOutcome outcome) {
  switch (outcome) {
    case worker::JobOutcome::kReady: return "ready";
    case worker::JobOutcome::kFailed: return "failed";
    case worker::JobOutcome::kRetrying: return "retrying";
    case worker::JobOutcome::kReleased: return "released";
    case worker::JobOutcome::kLost: return "lost";
    case worker::JobOutcome::kDeferred: return "deferred";
  }
  return "lost";
}

}  // namespace

int RunServe(int argc, char** argv) {
  int code = 0;
  ExtraOptions extra;
  extra.valued = {{"--listen", "VIDPROC_LISTEN"}, {"--port-file", ""}};
  extra.flags = {"--insecure-no-auth"};
  extra.help = ServeOptionsHelp().c_str();
  extra.runs_jobs = true;
  auto ctx = Prepare(argc, argv, "serve", kHelp, &code, extra);
  if (!ctx) return code;
  const Config& config = ctx->config;

  // --workers and --max-tasks set MAX_VIDEO_PROCESSING_TASKS like the environment does.
  const int workers = config.max_tasks;
  const std::string host = ListenHost(config);
  if (!IsLoopback(host) && config.api_token.empty() && !ctx->args.has("--insecure-no-auth")) {
    std::fprintf(stderr,
                 "vidproc serve: refusing to listen on %s without VIDPROC_API_TOKEN: anyone who "
                 "can reach it could upload and delete videos. Set a token (16+ characters), or "
                 "pass --insecure-no-auth if something in front of vidproc authenticates.\n",
                 config.listen.c_str());
    return kExitUsage;
  }

  auto store = OpenJobStore(config);
  if (!store.ok()) return Fail("serve", store.status());
  auto blobs = OpenBlobStore(config);
  if (!blobs.ok()) return Fail("serve", blobs.status());

  // Descriptors: as many as the system allows, and the connections kept to what leaves the
  // jobs theirs.
  const int64_t file_limit = RaiseFileLimit();
  http::ServerOptions server_options = ServerOptionsFrom(config);
  if (server_options.max_connections == 0) {
    server_options.max_connections = DefaultMaxConnections(config, file_limit);
  }
  http::ApiOptions api_options = ApiOptionsFrom(config);
  api_options.serve_remote_without_token = ctx->args.has("--insecure-no-auth");
  http::Api api(store->get(), blobs->get(), SystemClock::Default(), std::move(api_options));
  http::HttpServer server(server_options, &api);

  std::unique_ptr<worker::WorkerPool> pool;
  if (workers > 0) {
    pool = std::make_unique<worker::WorkerPool>(
        store->get(), blobs->get(), WorkerSettingsFrom(config, MachineCores(), SelfPath()),
        SystemClock::Default());
    pool->SetObserver([&api](worker::JobOutcome outcome, double seconds) {
      api.metrics().JobFinished(OutcomeName(outcome), seconds);
    });
    pool->SetClaimObserver([&api](double waited) { api.metrics().JobClaimed(waited); });
  }

  // Deliveries are recorded by whichever process changes a job, and sent by any process that
  // has WEBHOOK_URL (claimed with a lease, so never twice at once).
  std::optional<worker::WebhookDispatcher> webhooks;
  if (!config.webhook_url.empty()) {
    (*store)->EnableWebhookOutbox(true);
    webhooks.emplace(store->get(), WebhookOptionsFrom(config), SystemClock::Default());
  }

  InstallStopSignals();
  signal(SIGPIPE, SIG_IGN);
  api.Start();
  if (Status s = server.Start(); !s.ok()) return Fail("serve", s);
  const std::string url = "http://" +
                          (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(server.port()) + "/";
  LogInfo("listening", {{"url", url},
                        {"workers", workers},
                        {"max_connections", server_options.max_connections},
                        {"auth", config.api_token.empty() ? "off" : "bearer token"},
                        {"storage", (*blobs)->Describe()}});
  if (auto file = ctx->args.get("--port-file")) {
    std::ofstream(*file + ".tmp") << server.port() << "\n";
    std::rename((*file + ".tmp").c_str(), file->c_str());
  }
  if (pool) pool->Start();
  if (webhooks) webhooks->Start();

  // Abandoned resumable uploads are removed now and then.
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // GUARDED_BY(mutex)
  // Direct upload URLs are swept at least twice per lifetime, so that an expired one's video
  // goes (with its video.deleted) soon after its URL stops working.
  const int64_t sweep_ms =
      std::clamp<int64_t>(int64_t{config.direct_upload_max_s} * 500, 1000, kExpirySweepMs);
  std::thread sweeper([&] {
    LoopGuard guard("expired upload sweeper", {.first_ms = sweep_ms, .max_ms = kExpirySweepMs});
    std::unique_lock lock(mutex);
    do {
      lock.unlock();
      (void)guard.Run([&api] {
        api.uploads().RemoveExpired();
        api.uploads().RemoveExpiredDirectUploads();
        return Status::Ok();
      });
      lock.lock();
    } while (!wake.wait_for(lock, std::chrono::milliseconds(sweep_ms),
                            [&stopping] { return stopping; }));
  });

  WaitForStopSignal();
  LogInfo("stopping", {{"grace_s", config.shutdown_grace_s}});
  {
    std::lock_guard lock(mutex);
    stopping = true;
    wake.notify_all();
  }
  sweeper.join();
  api.Stop();  // event streams end
  server.Stop(10'000);
  if (pool) pool->Stop(int64_t{config.shutdown_grace_s} * 1000);
  if (webhooks) webhooks->Stop();
  LogInfo("stopped", {});
  return kExitOk;
}

}  // namespace vidproc::cli
