// The webhook outbox (table webhook_outbox): one event about one video, written in the same
// transaction as the status change it reports, sent until the receiver answers 2xx or the sender
// gives up. worker::WebhookDispatcher is its sender.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vidproc::queue {

// A delivery in the outbox. `id` is the row (for the store's calls); `event_id` is what receivers
// see and deduplicate by: "evt_" and 32 random hex digits, written with the row, the same on
// every retry, unique across databases (a row number is not: two installations, or one restored
// from a backup, repeat them).
struct WebhookDelivery {
  int64_t id = 0;
  std::string video_id;
  std::string event;  // "video.ready" | "video.failed" | "video.deleted"
  int attempts = 0;   // sends started so far, counting the one this claim is for
  int64_t created_at_ms = 0;
  std::string lease_token;  // proves the claim to MarkWebhookDelivered and friends
  std::string event_id;
  // The video's API JSON (ToApiJson) when the event was written, for an event about a video that
  // no longer exists when it is sent (video.deleted); empty for the others.
  std::string video_snapshot;
};

// The deliveries a receiver has not accepted, for monitoring (/metrics).
struct WebhookBacklog {
  int64_t pending = 0;   // no send has failed yet: due, or being sent for the first time
  int64_t failed = 0;    // a send did not succeed; it will be retried (due later, or being resent)
  int64_t given_up = 0;  // never sent again (kept in the outbox, like every delivery)
};

inline constexpr std::string_view kEventVideoReady = "video.ready";
inline constexpr std::string_view kEventVideoFailed = "video.failed";
inline constexpr std::string_view kEventVideoDeleted = "video.deleted";

class WebhookOutbox {
 public:
  virtual ~WebhookOutbox() = default;

  // When enabled (off by default; a process turns it on when WEBHOOK_URL is set), every
  // transition to kReady (CompleteJob) or kFailed (FailJob without retry_at_ms,
  // RecoverExpiredLeases) also writes a delivery, in the same transaction: an event is never lost
  // nor invented. So does DeleteVideo (video.deleted, with the video's last state as its
  // snapshot). Every process that changes job states must enable it, workers included.
  virtual void EnableWebhookOutbox(bool enabled) = 0;
  // Leases up to `limit` deliveries that are due (next attempt at or before now), neither
  // delivered nor given up, and not leased by another claimer (or whose lease expired), for
  // `lease_ms`; oldest due first. Increments their attempts. Survives restarts like every row.
  virtual Result<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(int limit,
                                                                      int64_t lease_ms) = 0;
  // The receiver accepted the delivery: it is never claimed again. kLeaseLost if `lease_token`
  // is not the delivery's current lease.
  virtual Status MarkWebhookDelivered(int64_t id, const std::string& lease_token) = 0;
  // A send failed: the lease is dropped and the delivery is due again at `next_attempt_ms`, with
  // `error` kept as its last error. kLeaseLost as above.
  virtual Status RecordWebhookFailure(int64_t id, const std::string& lease_token,
                                      int64_t next_attempt_ms, const std::string& error) = 0;
  // Stops retrying: the delivery is marked given up (with `error`) and never claimed again.
  // kLeaseLost as above.
  virtual Status GiveUpWebhook(int64_t id, const std::string& lease_token,
                               const std::string& error) = 0;
  // The backlog now: one aggregate over the undelivered rows only (an index holds them), so its
  // cost follows the backlog, not the history of delivered events. Cheap enough for every scrape.
  virtual Result<WebhookBacklog> CountWebhookBacklog() = 0;
};

}  // namespace vidproc::queue
