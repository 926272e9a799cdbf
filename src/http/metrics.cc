#include "http/metrics.h"

#include <cstdio>

namespace vidproc::http {
namespace {

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void Help(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Histogram::Observe(double value) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i]++;
  sum_ += value;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  std::lock_guard lock(mutex_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = i < bounds_.size() ? Number(bounds_[i]) : "+Inf";
    *out += name + "_bucket{" + labels + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::string plain = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
  *out += name + "_sum" + plain + " " + Number(sum_) + "\n";
  *out += name + "_count" + plain + " " + std::to_string(cumulative) + "\n";
}

void Metrics::RecordRequest(const std::string& method, const std::string& route, int status,
                            double seconds) {
  {
    std::lock_guard lock(mutex_);
    requests_[{method, route}][status]++;
  }
  if (route != "/api/v1/events") request_seconds_.Observe(seconds);
}

void Metrics::JobFinished(const std::string& outcome, double seconds) {
  {
    std::lock_guard lock(mutex_);
    jobs_[outcome]++;
  }
  if (outcome == "ready" || outcome == "failed") processing_seconds_.Observe(seconds);
}

std::string Metrics::Render(const queue::QueueCounts* counts) const {
  std::string out;
  if (counts) {
    Help(&out, "vidproc_queue_videos", "gauge", "Videos in the database by status.");
    const std::pair<const char*, int64_t> rows[] = {{"uploading", counts->uploading},
                                                    {"queued", counts->queued},
                                                    {"processing", counts->processing},
                                                    {"ready", counts->ready},
                                                    {"failed", counts->failed}};
    for (const auto& [status, n] : rows) {
      out += std::string("vidproc_queue_videos{status=\"") + status + "\"} " + std::to_string(n) +
             "\n";
    }
  }
  Help(&out, "vidproc_database_up", "gauge", "1 if the database answered this scrape.");
  out += std::string("vidproc_database_up ") + (counts ? "1" : "0") + "\n";
  {
    std::lock_guard lock(mutex_);
    Help(&out, "vidproc_jobs_finished_total", "counter",
         "Jobs this process finished, by outcome (ready, failed, retrying, released, lost).");
    for (const char* outcome : {"ready", "failed", "retrying", "released", "lost"}) {
      auto it = jobs_.find(outcome);
      out += std::string("vidproc_jobs_finished_total{outcome=\"") + outcome + "\"} " +
             std::to_string(it == jobs_.end() ? 0 : it->second) + "\n";
    }
    Help(&out, "vidproc_http_requests_total", "counter", "HTTP requests by route and status.");
    for (const auto& [key, by_status] : requests_) {
      for (const auto& [status, n] : by_status) {
        out += "vidproc_http_requests_total{method=\"" + key.first + "\",route=\"" + key.second +
               "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
      }
    }
  }
  Help(&out, "vidproc_job_processing_seconds", "histogram",
       "Wall time of jobs that ended ready or failed.");
  processing_seconds_.Render("vidproc_job_processing_seconds", "", &out);
  Help(&out, "vidproc_http_request_duration_seconds", "histogram",
       "Time to answer an HTTP request (event streams excluded).");
  request_seconds_.Render("vidproc_http_request_duration_seconds", "", &out);
  Help(&out, "vidproc_http_requests_in_flight", "gauge", "HTTP requests being answered.");
  out += "vidproc_http_requests_in_flight " + std::to_string(in_flight_.load()) + "\n";
  Help(&out, "vidproc_upload_bytes_total", "counter", "Bytes of uploads received.");
  out += "vidproc_upload_bytes_total " + std::to_string(upload_bytes_.load()) + "\n";
  Help(&out, "vidproc_uploads_total", "counter", "Completed uploads by result.");
  out += "vidproc_uploads_total{result=\"ok\"} " + std::to_string(uploads_ok_.load()) + "\n";
  out +=
      "vidproc_uploads_total{result=\"failed\"} " + std::to_string(uploads_failed_.load()) + "\n";
  Help(&out, "vidproc_event_stream_clients", "gauge", "Open /api/v1/events streams.");
  out += "vidproc_event_stream_clients " + std::to_string(event_clients_.load()) + "\n";
  return out;
}

}  // namespace vidproc::http
