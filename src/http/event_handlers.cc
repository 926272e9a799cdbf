#include "http/api.h"
#include "http/handlers.h"

namespace vidproc::http {

asio::awaitable<void> StreamEvents(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  auto executor = co_await asio::this_coro::executor;
  auto subscriber = api.hub->Subscribe(executor);
  api.metrics->EventClients(1);
  // Resume: everything that changed since the client's last event, from the shared feed.
  std::vector<std::string> backlog;
  if (auto last = ParseNonNegative(ex.header("Last-Event-ID"))) {
    const int64_t since = *last;
    auto read_feed = [&api, since] { return api.store->ListChangedSince(since, 1000); };
    auto changed = co_await ex.Blocking(std::move(read_feed));
    if (changed.ok()) {
      for (const auto& v : changed.value()) backlog.push_back(api.hub->VideoFrame(v));
    }
  }
  HeaderList headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  bool ok = co_await ex.StartStream(200, "text/event-stream", std::move(headers));
  if (ok) ok = co_await ex.WriteChunk("retry: 2000\n: connected\n\n");
  for (auto& frame : backlog) {
    if (!ok) break;
    ok = co_await ex.WriteChunk(std::move(frame));
  }
  while (ok && subscriber->open()) {
    auto frames = subscriber->Take();
    if (!frames.empty()) {
      std::string batch;
      for (auto& f : frames) batch += f;
      ok = co_await ex.WriteChunk(std::move(batch));
      continue;  // more may have arrived while writing
    }
    auto& timer = subscriber->wake_timer();
    timer.expires_after(std::chrono::milliseconds(api.options->keepalive_ms));
    beast::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) ok = co_await ex.WriteChunk(": keep-alive\n\n");  // the timer ran out: idle
  }
  api.hub->Unsubscribe(subscriber);
  api.metrics->EventClients(-1);
}

}  // namespace vidproc::http
