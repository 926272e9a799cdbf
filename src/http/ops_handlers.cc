#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/web_page.h"
#include "queue/video_json.h"

namespace vidproc::http {

asio::awaitable<void> ServeHealth(ApiServices& /*api*/, Exchange& ex, const std::string& /*id*/) {
  co_await ex.SendJson(200, nlohmann::json::object());
}

asio::awaitable<void> ServePage(ApiServices& /*api*/, Exchange& ex, const std::string& /*id*/) {
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::ok);
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-cache");
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
          "'unsafe-inline'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; "
          // hls.js fetches playlists and segments (from a bucket's presigned URLs too) and
          // transmuxes in a worker made from a blob.
          "connect-src 'self' https:; worker-src 'self' blob:; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::string(WebPage());
  co_await ex.Send(std::move(res));
}

asio::awaitable<void> ServeHlsJs(ApiServices& /*api*/, Exchange& ex, const std::string& /*id*/) {
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::ok);
  res.set(bhttp::field::content_type, "text/javascript; charset=utf-8");
  // The same bytes for the life of this binary; a new build may bring another version.
  res.set(bhttp::field::cache_control, "public, max-age=86400");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::string(HlsJs());
  co_await ex.Send(std::move(res));
}

asio::awaitable<void> ServeReady(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  auto check = [&api] {
    nlohmann::json out = {{"database", "ok"}, {"storage", "ok"}};
    bool ok = true;
    if (auto counts = api.store->Counts(); !counts.ok()) {
      out["database"] = counts.status().message();
      ok = false;
    }
    if (auto probe = api.blobs->Stat("readyz-probe"); !probe.ok()) {
      out["storage"] = probe.status().message();
      ok = false;
    }
    return std::make_pair(ok, out);
  };
  auto checks = co_await ex.Blocking(std::move(check));
  const bool ready = checks.first;
  if (!ready) {
    LogWarning("not ready", {{"request_id", ex.request_id()},
                             {"database", checks.second["database"]},
                             {"storage", checks.second["storage"]}});
  }
  // The backends' own words (hosts, buckets, libpq text) only for a holder of the token.
  const bool operator_asks =
      api.auth->enabled() && api.auth->Allows(ex.header(bhttp::field::authorization));
  nlohmann::json body = {{"status", ready ? "ready" : "not ready"}};
  if (operator_asks) body["checks"] = checks.second;
  co_await ex.SendJson(ready ? 200 : 503, body);
}

asio::awaitable<void> ServeMetrics(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  // The queue from the database and the process from /proc: both off the I/O thread.
  auto render = [&api] {
    auto counts = api.store->Counts();
    auto webhooks = api.store->CountWebhookBacklog();
    return api.metrics->Render(counts.ok() ? &counts.value() : nullptr,
                               webhooks.ok() ? &webhooks.value() : nullptr, api.clock->NowMs());
  };
  std::string exposition = co_await ex.Blocking(std::move(render));
  co_await ex.SendText(200, "text/plain; version=0.0.4; charset=utf-8", exposition);
}

asio::awaitable<void> ServeQueue(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  auto read_queue = [&api]() -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(auto counts, api.store->Counts());
    ASSIGN_OR_RETURN(auto workers, api.store->ListWorkers(60'000));
    nlohmann::json list = nlohmann::json::array();
    int slots = 0;
    for (const auto& w : workers) {
      slots += w.slots;
      list.push_back(queue::ToApiJson(w));
    }
    return nlohmann::json{{"waiting_for_upload", counts.waiting_for_upload},
                          {"uploading", counts.uploading},
                          {"queued", counts.queued},
                          {"processing", counts.processing},
                          {"ready", counts.ready},
                          {"failed", counts.failed},
                          {"slots", slots},
                          {"workers", list}};
  };
  auto result = co_await ex.Blocking(std::move(read_queue));
  if (!result.ok()) co_return co_await ex.SendError(result.status());
  co_await ex.SendJson(200, result.value());
}

}  // namespace vidproc::http
