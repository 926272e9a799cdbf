#include "queue/forecast.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

namespace vidproc::queue {
namespace {

double TypicalSeconds(const std::vector<Video>& queue) {
  std::vector<double> known;
  for (const Video& v : queue) {
    if (v.predicted_seconds && std::isfinite(*v.predicted_seconds) && *v.predicted_seconds > 0) {
      known.push_back(*v.predicted_seconds);
    }
  }
  if (known.empty()) return kTypicalJobSeconds;
  std::nth_element(known.begin(), known.begin() + known.size() / 2, known.end());
  return known[known.size() / 2];
}

double Seconds(const std::optional<double>& predicted, double typical) {
  return predicted && std::isfinite(*predicted) && *predicted > 0 ? *predicted : typical;
}

double RemainingSeconds(const Video& running, double typical) {
  if (running.eta_seconds) return std::max<double>(0, static_cast<double>(*running.eta_seconds));
  const double progress = std::clamp(running.progress, 0.0, 1.0);
  return Seconds(running.predicted_seconds, typical) * (1 - progress);
}

}  // namespace

std::map<std::string, QueuePlace> ForecastQueue(const std::vector<Video>& queue, int slots,
                                                int64_t now_ms) {
  std::map<std::string, QueuePlace> places;
  const double typical = TypicalSeconds(queue);
  // When each slot is next free, earliest first.
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at;
  for (int i = 0; i < slots; ++i) free_at.push(0);
  auto take_slot = [&](double busy_s) -> double {
    const double start = free_at.top();
    free_at.pop();
    free_at.push(start + busy_s);
    return start;
  };
  int position = 0;
  for (const Video& v : queue) {
    if (v.status == VideoStatus::kProcessing) {
      if (slots > 0) take_slot(RemainingSeconds(v, typical));
      continue;
    }
    if (v.status != VideoStatus::kQueued) continue;
    QueuePlace& place = places[v.id];
    place.position = ++position;
    if (slots > 0) {
      const double start_s = take_slot(Seconds(v.predicted_seconds, typical));
      place.predicted_start_ms = now_ms + static_cast<int64_t>(std::llround(start_s * 1000));
    }
  }
  return places;
}

}  // namespace vidproc::queue
