#include "worker/webhook_dispatcher.h"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "core/log.h"
#include "core/loop_guard.h"
#include "core/redact.h"
#include "core/text.h"
#include "queue/video_json.h"
#include "storage/http_client.h"
#include "storage/sigv4.h"

namespace vidproc::worker {
namespace {

// The longest wait between passes while the outbox cannot be read.
constexpr int64_t kMaxIdleMs = 30'000;

double Jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// The row's JSON the body's video is rendered from: the video as it is now, or for video.deleted
// as it was when deleted. nullopt when a video.ready or video.failed is about a video deleted
// since: its video.deleted (written with the deletion) tells the receiver what became of it.
Result<std::optional<nlohmann::json>> VideoRecord(queue::VideoQueue* videos,
                                                  const queue::WebhookDelivery& d) {
  if (!d.video_snapshot.empty()) {
    auto snapshot = nlohmann::json::parse(d.video_snapshot, nullptr, /*allow_exceptions=*/false);
    if (snapshot.is_discarded() || !snapshot.is_object()) {
      return Status(ErrorCode::kInternal, "the stored video snapshot is not a JSON object");
    }
    return std::optional<nlohmann::json>(std::move(snapshot));
  }
  auto v = videos->GetVideo(d.video_id);
  if (v.ok()) return std::optional<nlohmann::json>(queue::ToApiJson(v.value()));
  if (v.status().code() == ErrorCode::kNotFound) return std::optional<nlohmann::json>();
  return v.status();
}

nlohmann::json Fields(const queue::WebhookDelivery& d) {
  return {
      {"delivery", d.event_id}, {"video", d.video_id}, {"event", d.event}, {"attempt", d.attempts}};
}

}  // namespace

std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string t = std::to_string(unix_seconds);
  std::string signed_text;
  signed_text.reserve(t.size() + 1 + body.size());
  signed_text.append(t).append(".").append(body);
  std::string hex = storage::sigv4::Hex(storage::sigv4::HmacSha256(secret, signed_text));
  return "t=" + t + ",v1=" + hex;
}

int64_t WebhookBackoffMs(const WebhookOptions& options, int attempts, double jitter) {
  int64_t delay = std::max<int64_t>(options.first_backoff_ms, 0);
  for (int i = 1; i < attempts && delay < options.max_backoff_ms; ++i) delay *= 2;
  delay = std::min(delay, options.max_backoff_ms);
  return static_cast<int64_t>(static_cast<double>(delay) * (0.8 + 0.4 * jitter));
}

WebhookDispatcher::WebhookDispatcher(queue::WebhookOutbox* outbox, queue::VideoQueue* videos,
                                     WebhookOptions options, const Clock* clock)
    : outbox_(outbox), videos_(videos), options_(std::move(options)), clock_(clock) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
  if (options_.secret.empty()) {
    LogWarning("WEBHOOK_SECRET is not set: webhook deliveries are sent unsigned");
  }
  if (!options_.absolute_links) {
    LogInfo(
        "VIDPROC_PUBLIC_URL is not set: webhooks carry video_url and thumbnail_url as paths "
        "relative to the API's origin");
  }
  LogInfo("webhook dispatcher started", {{"url", MaskUrlCredentials(options_.url)}});
  thread_ = std::thread([this] { Loop(); });
}

void WebhookDispatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookDispatcher::Loop() {
  LoopGuard guard("webhook dispatcher",
                  {.first_ms = options_.poll_ms, .max_ms = std::max(options_.poll_ms, kMaxIdleMs)});
  while (!stopping_) {
    int claimed = 0;
    Status s = guard.Run([this, &claimed]() -> Status {
      ASSIGN_OR_RETURN(claimed, SendDue());
      return Status::Ok();
    });
    if (s.ok() && claimed >= options_.batch) continue;  // more may be due right now
    std::unique_lock lock(mutex_);
    clock_->WaitFor(wake_, lock, s.ok() ? options_.poll_ms : guard.delay_ms(),
                    [this] { return stopping_.load(); });
  }
}

int WebhookDispatcher::RunOnce() {
  auto sent = SendDue();
  if (!sent.ok()) {
    LogWarning("cannot read the webhook outbox", {{"error", sent.status().ToString()}});
    return 0;
  }
  return sent.value();
}

Result<int> WebhookDispatcher::SendDue() {
  ASSIGN_OR_RETURN(auto claimed,
                   outbox_->ClaimWebhookDeliveries(options_.batch, options_.lease_ms));
  for (const queue::WebhookDelivery& d : claimed) {
    if (stopping_) {
      // Not attempted: due again at once for whoever runs next, instead of after the lease.
      (void)outbox_->RecordWebhookFailure(d.id, d.lease_token, clock_->NowMs(),
                                          "not attempted: the sender stopped");
      continue;
    }
    Status attempted = GuardRecord("webhook delivery", Fields(d), [this, &d] {
      Attempt(d);
      return Status::Ok();
    });
    if (!attempted.ok()) Quarantine(d, attempted);
  }
  return static_cast<int>(claimed.size());
}

std::string WebhookDispatcher::BuildBody(const queue::WebhookDelivery& d,
                                         nlohmann::json record) const {
  const int64_t now_s = clock_->NowMs() / 1000;
  nlohmann::json video = options_.render ? options_.render(std::move(record), now_s) : record;
  return DumpJson(nlohmann::json{{"id", d.event_id},
                                 {"event", d.event},
                                 {"created_at", FormatRfc3339(d.created_at_ms)},
                                 {"video", std::move(video)}});
}

void WebhookDispatcher::Quarantine(const queue::WebhookDelivery& d, const Status& error) {
  // An attempt that throws would throw again at every retry (a record the body cannot be made
  // of): the delivery is given up at once, with the reason kept in the outbox.
  const std::string reason = "cannot be sent: " + error.message();
  Status s = outbox_->GiveUpWebhook(d.id, d.lease_token, SanitizeText(reason));
  nlohmann::json f = Fields(d);
  f["error"] = reason;
  if (!s.ok()) f["store_error"] = s.ToString();
  ++given_up_;
  LogError("webhook delivery quarantined", f);
}

void WebhookDispatcher::Attempt(const queue::WebhookDelivery& d) {
  const int64_t deadline = d.created_at_ms + options_.give_up_ms;
  auto give_up = [&](const std::string& error) {
    Status s = outbox_->GiveUpWebhook(d.id, d.lease_token, error);
    nlohmann::json f = Fields(d);
    f["error"] = error;
    f["give_up_after_s"] = options_.give_up_ms / 1000;
    if (!s.ok()) f["store_error"] = s.ToString();
    ++given_up_;
    LogWarning("webhook delivery given up", f);
  };
  if (clock_->NowMs() >= deadline) {
    give_up("not delivered within the give-up time");
    return;
  }

  const int64_t started_ms = clock_->MonotonicMs();
  std::string error;
  int http_status = 0;
  auto record = VideoRecord(videos_, d);
  if (record.ok() && !record->has_value()) {
    give_up("the video was deleted before this event was sent (its video.deleted follows)");
    return;
  }
  Result<std::string> body = record.ok() ? Result<std::string>(BuildBody(d, **record))
                                         : Result<std::string>(record.status());
  if (!body.ok()) {
    error = body.status().ToString();
  } else {
    storage::HttpRequest request;
    request.method = "POST";
    request.url = options_.url;
    request.body = body.value();
    request.timeout_ms = options_.request_timeout_ms;
    request.cancel = &stopping_;
    request.headers = {{"Content-Type", "application/json"},
                       {"User-Agent", "vidproc-webhooks"},
                       {"X-Vidproc-Event", d.event},
                       {"X-Vidproc-Delivery", d.event_id}};
    if (!options_.secret.empty()) {
      request.headers.emplace_back(
          "X-Vidproc-Signature",
          WebhookSignature(options_.secret, clock_->NowMs() / 1000, request.body));
    }
    storage::HttpClient client;
    auto response = client.Perform(request);
    if (!response.ok()) {
      if (response.status().code() == ErrorCode::kCancelled) {
        // Stopping: the receiver may or may not have it. Due again at once (at least once).
        (void)outbox_->RecordWebhookFailure(d.id, d.lease_token, clock_->NowMs(),
                                            "cancelled: the sender stopped");
        LogInfo("webhook delivery interrupted by shutdown", Fields(d));
        return;
      }
      // Stored in webhook_outbox.last_error and logged: never the URL's credentials.
      error = MaskUrlCredentials(response.status().message());
    } else {
      http_status = response->status;
      if (http_status >= 200 && http_status < 300) {
        Status s = outbox_->MarkWebhookDelivered(d.id, d.lease_token);
        nlohmann::json f = Fields(d);
        f["status"] = http_status;
        f["ms"] = clock_->MonotonicMs() - started_ms;
        if (!s.ok()) {
          // The lease ran out during the request: another sender may send it again.
          f["store_error"] = s.ToString();
          LogWarning("webhook delivered, but its lease had expired", f);
        } else {
          LogInfo("webhook delivered", f);
        }
        ++delivered_;
        return;
      }
      error = "HTTP " + std::to_string(http_status);
    }
  }

  int64_t now = clock_->NowMs();
  int64_t next = now + WebhookBackoffMs(options_, d.attempts, Jitter());
  if (next >= deadline) {
    give_up(error);
    return;
  }
  Status s = outbox_->RecordWebhookFailure(d.id, d.lease_token, next, error);
  nlohmann::json f = Fields(d);
  f["error"] = error;
  if (http_status) f["status"] = http_status;
  f["retry_in_ms"] = next - now;
  if (!s.ok()) f["store_error"] = s.ToString();
  ++failed_attempts_;
  LogWarning("webhook delivery failed", f);
}

}  // namespace vidproc::worker
