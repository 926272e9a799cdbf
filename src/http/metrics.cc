#include "http/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/version.h"

namespace vidproc::http {
namespace {

// The shortest text that reads back as `v` exactly: bucket bounds print as written in the code
// (le="0.0025", not le="0.0025000000000000001").
std::string Number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

// When this process started, in seconds since the epoch: field 22 of /proc/self/stat (clock ticks
// after boot) plus the boot time. Field 2 (the command) may hold spaces and parentheses, so fields
// are counted after its closing parenthesis. 0 if /proc says otherwise.
double ReadStartTimeSeconds() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  int64_t boot_time = 0;
  std::ifstream machine("/proc/stat");
  for (std::string line; std::getline(machine, line);) {
    if (line.rfind("btime ", 0) == 0) boot_time = std::atoll(line.c_str() + 6);
  }
  size_t close = stat.rfind(')');
  if (close == std::string::npos || boot_time <= 0) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) {
      return static_cast<double>(boot_time) + static_cast<double>(std::atoll(field.c_str())) /
                                                  static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return 0;
}

struct ProcessStats {
  double cpu_seconds = 0;
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;
  double start_time_seconds = 0;  // since the epoch
};

// This process (not its transcoder children, which are processes of their own) from /proc.
ProcessStats ReadProcessStats() {
  ProcessStats p;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    p.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  const int64_t page = sysconf(_SC_PAGESIZE);
  int64_t size_pages = 0, resident_pages = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> size_pages >> resident_pages) {
    p.virtual_bytes = size_pages * page;
    p.resident_bytes = resident_pages * page;
  }
  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(fds)) p.open_fds += e->d_name[0] != '.';
    closedir(fds);
    p.open_fds -= 1;  // the directory stream's own descriptor
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) p.max_fds = static_cast<int64_t>(files.rlim_cur);
  static const double start_time = ReadStartTimeSeconds();  // it never changes
  p.start_time_seconds = start_time;
  return p;
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
  if (route == "/api/v1/events") return;  // a stream lasts as long as its client stays
  Histogram* histogram;
  {
    std::lock_guard lock(mutex_);
    auto& slot = request_seconds_[route];
    if (!slot) slot = std::make_unique<Histogram>(Histogram::kRequestBuckets);
    histogram = slot.get();
  }
  histogram->Observe(seconds);
}

void Metrics::JobFinished(const std::string& outcome, double seconds) {
  {
    std::lock_guard lock(mutex_);
    jobs_[outcome]++;
  }
  if (outcome == "ready" || outcome == "failed") processing_seconds_.Observe(seconds);
}

std::string Metrics::Render(const queue::QueueCounts* counts, const queue::WebhookBacklog* webhooks,
                            int64_t now_ms) const {
  std::string out;
  const ProcessStats process = ReadProcessStats();
  Help(&out, "process_cpu_seconds_total", "counter", "User and system CPU time of this process.");
  out += "process_cpu_seconds_total " + Number(process.cpu_seconds) + "\n";
  Help(&out, "process_resident_memory_bytes", "gauge", "Resident memory of this process.");
  out += "process_resident_memory_bytes " + std::to_string(process.resident_bytes) + "\n";
  Help(&out, "process_virtual_memory_bytes", "gauge", "Virtual memory of this process.");
  out += "process_virtual_memory_bytes " + std::to_string(process.virtual_bytes) + "\n";
  Help(&out, "process_open_fds", "gauge", "Open file descriptors of this process.");
  out += "process_open_fds " + std::to_string(process.open_fds) + "\n";
  Help(&out, "process_max_fds", "gauge", "The file descriptor limit of this process.");
  out += "process_max_fds " + std::to_string(process.max_fds) + "\n";
  Help(&out, "process_start_time_seconds", "gauge", "When this process started, since the epoch.");
  out += "process_start_time_seconds " + Number(process.start_time_seconds) + "\n";
  Help(&out, "vidproc_build_info", "gauge", "Always 1; the build's version as a label.");
  out += std::string("vidproc_build_info{version=\"") + kVersion + "\"} 1\n";
  if (counts) {
    Help(&out, "vidproc_queue_oldest_queued_seconds", "gauge",
         "How long the longest-waiting queued video has waited (0 when none is queued).");
    double waited =
        counts->oldest_queued_ms > 0
            ? std::max<double>(0, static_cast<double>(now_ms - counts->oldest_queued_ms) / 1000)
            : 0;
    out += "vidproc_queue_oldest_queued_seconds " + Number(waited) + "\n";
    Help(&out, "vidproc_queue_videos", "gauge", "Videos in the database by status.");
    const std::pair<const char*, int64_t> rows[] = {
        {"waiting_for_upload", counts->waiting_for_upload},
        {"uploading", counts->uploading},
        {"queued", counts->queued},
        {"processing", counts->processing},
        {"ready", counts->ready},
        {"failed", counts->failed}};
    for (const auto& [status, n] : rows) {
      out += std::string("vidproc_queue_videos{status=\"") + status + "\"} " + std::to_string(n) +
             "\n";
    }
  }
  if (webhooks) {
    Help(&out, "vidproc_webhook_deliveries", "gauge",
         "Webhook deliveries not accepted by the receiver: pending (no send failed yet), failed "
         "(a send failed; it will be retried), given_up (never sent again).");
    const std::pair<const char*, int64_t> rows[] = {{"pending", webhooks->pending},
                                                    {"failed", webhooks->failed},
                                                    {"given_up", webhooks->given_up}};
    for (const auto& [state, n] : rows) {
      out += std::string("vidproc_webhook_deliveries{state=\"") + state + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  Help(&out, "vidproc_database_up", "gauge", "1 if the database answered this scrape.");
  out += std::string("vidproc_database_up ") + (counts && webhooks ? "1" : "0") + "\n";
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
  Help(&out, "vidproc_job_queue_wait_seconds", "histogram",
       "Time from a video becoming due (queued, or a retry's backoff over) to a worker of this "
       "process claiming it.");
  queue_wait_seconds_.Render("vidproc_job_queue_wait_seconds", "", &out);
  Help(&out, "vidproc_http_request_duration_seconds", "histogram",
       "Time to answer an HTTP request, by route (event streams excluded).");
  {
    std::lock_guard lock(mutex_);
    for (const auto& [route, histogram] : request_seconds_) {
      histogram->Render("vidproc_http_request_duration_seconds", "route=\"" + route + "\",", &out);
    }
  }
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
