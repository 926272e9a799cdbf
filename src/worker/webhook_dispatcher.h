// Sends the webhook outbox (queue::WebhookOutbox) to WEBHOOK_URL: a background thread
// claims due deliveries with a lease, POSTs each as
//   {"id": "evt_...", "event": "video.ready" | "video.failed" | "video.deleted",
//    "created_at": "...", "video": {...}}
// where `video` is rendered by `render` (the API's renderer: what GET /api/v1/videos/{id} answers
// now; for video.deleted, the video as it was when deleted), signed in X-Vidproc-Signature, and
// records the outcome: a 2xx settles it; anything else is retried with exponential backoff and
// jitter until `give_up_ms` after the event, then given up with a warning. At-least-once: a
// receiver deduplicates by the event id (also in X-Vidproc-Delivery).
//
// Usage (any process that changes job states: `vidproc worker`, `vidproc serve`):
//   store->EnableWebhookOutbox(true);
//   worker::WebhookDispatcher hooks(store, cli::WebhookOptionsFrom(config),
//                                   SystemClock::Default());
//   hooks.Start();
//   ...
//   hooks.Stop();  // or let it go out of scope
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "queue/job_store.h"
#include "queue/video_queue.h"
#include "queue/webhook_outbox.h"

namespace vidproc::worker {

struct WebhookOptions {
  std::string url;     // WEBHOOK_URL
  std::string secret;  // WEBHOOK_SECRET; empty: deliveries are sent unsigned
  int64_t give_up_ms = int64_t{72} * 3'600'000;  // after the event: VIDPROC_WEBHOOK_GIVE_UP_HOURS
  int64_t poll_ms = 1'000;              // how often an idle dispatcher looks for due deliveries
  int64_t first_backoff_ms = 5'000;     // delay after the first failed attempt; doubles
  int64_t max_backoff_ms = 600'000;     // cap of that delay
  int64_t request_timeout_ms = 10'000;  // one POST, connection included
  // A claimed delivery is another dispatcher's after this: longer than a request can take.
  int64_t lease_ms = 60'000;
  int batch = 16;  // deliveries claimed at once
  // The video resource from the row's JSON (queue::ToApiJson) at `now_s`: http::RenderVideo as
  // the wiring binds it (signing key, media links). Unset: the row's JSON as it is.
  std::function<nlohmann::json(nlohmann::json record, int64_t now_s)> render;
  // Whether `render` makes absolute links (VIDPROC_PUBLIC_URL is set, or the media are public
  // objects); if not, Start says once
  // that bodies carry links relative to the API's origin.
  bool absolute_links = false;
};

// The X-Vidproc-Signature header value: "t=<unix_seconds>,v1=<hex HMAC-SHA256(secret,
// "<unix_seconds>.<body>")>". A receiver recomputes it from the raw body and compares in
// constant time (and may refuse old timestamps).
std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body);

// The delay before attempt `attempts + 1` after `attempts` failed ones (1, 2, ...): first_backoff
// doubling, capped at max_backoff, then ±20% jitter from `jitter` in [0, 1).
int64_t WebhookBackoffMs(const WebhookOptions& options, int attempts, double jitter);

class WebhookDispatcher {
 public:
  // Sends `outbox`'s deliveries with each video as `videos` has it now. All three must outlive
  // the dispatcher; `clock` should be the store's.
  WebhookDispatcher(queue::WebhookOutbox* outbox, queue::VideoQueue* videos, WebhookOptions options,
                    const Clock* clock);
  // Both from one store.
  WebhookDispatcher(queue::JobStore* store, WebhookOptions options, const Clock* clock)
      : WebhookDispatcher(store, store, std::move(options), clock) {}
  ~WebhookDispatcher();  // Stop()
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Starts the sending thread. Once.
  void Start();
  // Stops promptly: wakes the thread, cancels a POST in flight (that delivery is due again at
  // once, for the next dispatcher) and joins. Idempotent.
  void Stop();

  // One pass on the calling thread: claims up to `batch` due deliveries and attempts each.
  // Returns how many were claimed. (What the thread runs; for tests and tools.)
  int RunOnce();

  // Deliveries settled since construction (for logs and tests).
  int64_t delivered() const { return delivered_; }
  int64_t failed_attempts() const { return failed_attempts_; }
  int64_t given_up() const { return given_up_; }

 private:
  // Passes under a LoopGuard: a pass that fails or throws is logged and the next one waits with
  // backoff; a delivery whose attempt throws is quarantined (given up with the reason).
  void Loop();
  Result<int> SendDue();
  void Attempt(const queue::WebhookDelivery& delivery);
  void Quarantine(const queue::WebhookDelivery& delivery, const Status& error);
  // The body of `delivery`, its video rendered from `record`.
  std::string BuildBody(const queue::WebhookDelivery& delivery, nlohmann::json record) const;

  queue::WebhookOutbox* outbox_;
  queue::VideoQueue* videos_;
  const WebhookOptions options_;
  const Clock* clock_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_attempts_{0};
  std::atomic<int64_t> given_up_{0};
};

}  // namespace vidproc::worker
