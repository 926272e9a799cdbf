// The HTTP API of ../shared/API.md (docs/API.md): routing and thin handlers. A handler parses
// the request, calls the queue, storage or upload service on the blocking pool, and answers;
// every error is a Status mapped to HTTP in one place (errors.h).
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "http/access_log.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/metrics.h"
#include "http/server.h"
#include "http/uploads.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::http {

struct ApiOptions {
  std::string api_token;  // empty: no authentication
  UploadOptions uploads;
  int presign_expiry_s = 3600;    // redirects to S3
  int64_t keepalive_ms = 15'000;  // SSE comment lines
  bool access_log = true;
};

class Api : public Handler {
 public:
  Api(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock, ApiOptions options);
  ~Api() override;

  void Start();  // the event poller
  void Stop();   // ends event streams
  Metrics& metrics() { return metrics_; }
  Uploads& uploads() { return uploads_; }

  asio::awaitable<void> Handle(Exchange& ex) override;
  void Finished(const ExchangeRecord& record) override;
  void InFlight(int delta) override { metrics_.InFlight(delta); }

  // The video resource with its URLs (signed when auth is on).
  nlohmann::json Render(const queue::Video& video) const;

 private:
  asio::awaitable<void> Page(Exchange& ex);
  asio::awaitable<void> Ready(Exchange& ex);
  asio::awaitable<void> MetricsPage(Exchange& ex);
  asio::awaitable<void> ListVideos(Exchange& ex);
  asio::awaitable<void> GetVideo(Exchange& ex, const std::string& id);
  asio::awaitable<void> DeleteVideo(Exchange& ex, const std::string& id);
  asio::awaitable<void> RetryVideo(Exchange& ex, const std::string& id);
  asio::awaitable<void> Upload(Exchange& ex);
  asio::awaitable<void> Media(Exchange& ex, const std::string& id, bool thumbnail);
  asio::awaitable<void> Queue(Exchange& ex);
  asio::awaitable<void> Events(Exchange& ex);
  asio::awaitable<void> TusOptions(Exchange& ex);
  asio::awaitable<void> TusCreate(Exchange& ex);
  asio::awaitable<void> TusHead(Exchange& ex, const std::string& id);
  asio::awaitable<void> TusPatch(Exchange& ex, const std::string& id);
  asio::awaitable<void> TusDelete(Exchange& ex, const std::string& id);
  // Deletes a video and all its blobs; nullopt when an upload of it is being written right now.
  asio::awaitable<std::optional<Status>> RemoveUnlessLocked(Exchange& ex, const std::string& id);
  asio::awaitable<void> Unauthorized(Exchange& ex);
  asio::awaitable<void> NotAllowed(Exchange& ex, const char* allow);
  bool Authorized(const Exchange& ex) const;
  int64_t NowS() const { return clock_->NowMs() / 1000; }

  queue::JobStore* store_;
  storage::BlobStore* blobs_;
  const Clock* clock_;
  const ApiOptions options_;
  Auth auth_;
  Metrics metrics_;
  Uploads uploads_;
  EventHub hub_;
  std::unique_ptr<AccessLog> access_log_;  // null when off
};

}  // namespace vidproc::http
