// `vidproc serve`: the HTTP API, the web page and (unless --workers 0) the worker slots in one
// process, on the configured database and storage.
#include <signal.h>

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

constexpr const char* kServeOptions = R"(
  --listen HOST:PORT   VIDPROC_LISTEN: where to listen (default 127.0.0.1:8080; port 0: any)
  --workers N          worker slots in this process (default MAX_VIDEO_PROCESSING_TASKS;
                       0: an API-only node)
  --port-file FILE     write the port to FILE once listening
  --insecure-no-auth   allow a non-loopback address without VIDPROC_API_TOKEN
)";

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
  }
  return "lost";
}

}  // namespace

int RunServe(int argc, char** argv) {
  int code = 0;
  ExtraOptions extra;
  extra.valued = {{"--listen", "VIDPROC_LISTEN"}, {"--workers", ""}, {"--port-file", ""}};
  extra.flags = {"--insecure-no-auth"};
  extra.help = kServeOptions;
  auto ctx = Prepare(argc, argv, "serve", kHelp, &code, extra);
  if (!ctx) return code;
  const Config& config = ctx->config;

  int workers = config.max_tasks;
  if (auto w = ctx->args.get("--workers")) {
    auto n = ParseInteger(*w, 0, 64);
    if (!n.ok()) {
      std::fprintf(stderr, "vidproc serve: --workers must be a whole number from 0 to 64.\n");
      return kExitUsage;
    }
    workers = static_cast<int>(n.value());
  }
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  const int port = std::stoi(config.listen.substr(config.listen.rfind(':') + 1));
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

  http::ApiOptions api_options;
  api_options.api_token = config.api_token;
  api_options.uploads.max_upload_bytes = config.max_upload_bytes;
  api_options.uploads.expiry_ms = int64_t{config.upload_expiry_h} * 3600 * 1000;
  http::Api api(store->get(), blobs->get(), SystemClock::Default(), api_options);

  http::ServerOptions server_options;
  server_options.host = host == "localhost" ? "127.0.0.1" : host;
  server_options.port = port;
  server_options.io_threads = config.http_threads;
  server_options.header_timeout_ms = int64_t{config.http_idle_timeout_s} * 1000;
  server_options.body_timeout_ms = int64_t{config.http_body_timeout_s} * 1000;
  server_options.write_timeout_ms = int64_t{config.http_body_timeout_s} * 1000;
  http::HttpServer server(server_options, &api);

  std::unique_ptr<worker::WorkerPool> pool;
  if (workers > 0) {
    auto settings = worker::WorkerSettings::FromConfig(config, SelfPath());
    settings.max_tasks = workers;
    pool = std::make_unique<worker::WorkerPool>(store->get(), blobs->get(), settings,
                                                SystemClock::Default());
    pool->SetObserver([&api](worker::JobOutcome outcome, double seconds) {
      api.metrics().JobFinished(OutcomeName(outcome), seconds);
    });
  }

  // Deliveries are recorded by whichever process changes a job, and sent by any process that
  // has WEBHOOK_URL (claimed with a lease, so never twice at once).
  std::optional<worker::WebhookDispatcher> webhooks;
  if (!config.webhook_url.empty()) {
    (*store)->EnableWebhookOutbox(true);
    webhooks.emplace(store->get(), worker::WebhookOptions::FromConfig(config),
                     SystemClock::Default());
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
  std::thread sweeper([&] {
    std::unique_lock lock(mutex);
    do {
      lock.unlock();
      api.uploads().RemoveExpired();
      lock.lock();
    } while (!wake.wait_for(lock, std::chrono::milliseconds(kExpirySweepMs),
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
