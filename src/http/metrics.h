// The numbers /metrics exposes in Prometheus' text format: HTTP requests by route and status and
// their duration by route, requests in flight, upload bytes, jobs finished by outcome with a
// processing-time histogram, the wait of claimed jobs, (read from the database at scrape time)
// the queue's depth by status, the wait of its oldest video and the webhook backlog, and what an
// operator of a small box watches first: the process's memory, CPU, descriptors and start time
// (Prometheus' standard process_* names), and the build.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "queue/job_store.h"

namespace vidproc::http {

class Histogram {
 public:
  static constexpr std::array<double, 10> kProcessingBuckets = {1,   5,   10,  30,   60,
                                                                120, 300, 600, 1800, 3600};
  // From seconds (a slot was free) to an hour (a backlog on a busy box).
  static constexpr std::array<double, 10> kQueueWaitBuckets = {0.1, 0.5, 1,   5,    15,
                                                               60,  300, 900, 1800, 3600};
  static constexpr std::array<double, 10> kRequestBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,  0.1,    0.5,   1,    5};
  explicit Histogram(const std::array<double, 10>& bounds) : bounds_(bounds) {}
  void Observe(double value);
  // Appends the _bucket, _sum and _count series of `name` with `labels` ("" or `a="b",`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  const std::array<double, 10>& bounds_;
  mutable std::mutex mutex_;
  std::array<uint64_t, 11> counts_ = {};
  double sum_ = 0;
};

class Metrics {
 public:
  void RecordRequest(const std::string& method, const std::string& route, int status,
                     double seconds);
  void InFlight(int delta) { in_flight_ += delta; }
  void AddUploadBytes(int64_t bytes) { upload_bytes_ += bytes; }
  void UploadFinished(bool ok) { (ok ? uploads_ok_ : uploads_failed_)++; }
  void JobFinished(const std::string& outcome, double seconds);
  // A worker of this process claimed a job that had waited `waited_seconds` for one.
  void JobClaimed(double waited_seconds) { queue_wait_seconds_.Observe(waited_seconds); }
  void EventClients(int delta) { event_clients_ += delta; }

  // The exposition; `counts` and `webhooks` are the queue and the webhook outbox read just now
  // (nullptr where the database failed) at `now_ms` (the clock of the queue's timestamps).
  std::string Render(const queue::QueueCounts* counts, const queue::WebhookBacklog* webhooks,
                     int64_t now_ms) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::map<int, uint64_t>> requests_;
  std::map<std::string, uint64_t> jobs_;
  std::map<std::string, std::unique_ptr<Histogram>> request_seconds_;  // by route
  Histogram processing_seconds_{Histogram::kProcessingBuckets};
  Histogram queue_wait_seconds_{Histogram::kQueueWaitBuckets};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> upload_bytes_{0};
  std::atomic<int64_t> uploads_ok_{0};
  std::atomic<int64_t> uploads_failed_{0};
  std::atomic<int64_t> event_clients_{0};
};

}  // namespace vidproc::http
