#include "worker/admission.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <vector>

namespace vidproc::worker {
namespace {

// x264's presets from the fastest; an unknown name counts as slower than all of them.
int PresetRank(std::string_view preset) {
  static constexpr std::array<std::string_view, 10> kPresets = {
      "ultrafast", "superfast", "veryfast", "faster",   "fast",
      "medium",    "slow",      "slower",   "veryslow", "placebo"};
  auto it = std::find(kPresets.begin(), kPresets.end(), preset);
  return it == kPresets.end() ? static_cast<int>(kPresets.size())
                              : static_cast<int>(it - kPresets.begin());
}

std::string Seconds(double s) { return std::to_string(std::lround(s)) + " s"; }

}  // namespace

Fit FitToTime(const media::CostModel& model, const media::MediaInfo& info,
              media::TranscodeOptions options, const JobSettings& configured, CoreShare cores,
              double seconds_left, int timeout_s) {
  std::vector<JobSettings> ladder = {configured};
  for (const char* preset : {"superfast", "ultrafast"}) {
    if (PresetRank(preset) < PresetRank(ladder.back().preset)) {
      ladder.push_back({configured.threads, preset, configured.max_fps});
    }
  }
  const double source_fps = info.video ? info.video->frame_rate : 0;
  if (configured.max_fps > 30 && source_fps > 30.5) {
    ladder.push_back({configured.threads, ladder.back().preset, 30});
  }
  auto predict = [&](const JobSettings& s, double with_cores) {
    options.threads = s.threads;
    options.preset = s.preset;
    options.max_frame_rate = s.max_fps;
    return model.Predict(info, options, with_cores);
  };
  const double shared_cores = std::min(cores.shared, cores.now);
  Fit fit;
  for (const JobSettings& s : ladder) {
    fit.settings = s;
    if (predict(s, shared_cores).wall_s <= kTimeShareToFit * seconds_left) break;
  }
  fit.predicted = predict(fit.settings, cores.now);
  if (fit.predicted.wall_s > seconds_left) {
    // Even the cheapest would be stopped by the timeout: refused now, not after the CPU is spent.
    const int needed_s = static_cast<int>(std::ceil(fit.predicted.wall_s / kTimeShareToFit));
    fit.refusal =
        Status(ErrorCode::kWouldExceedTimeout,
               "Processing this video is predicted to take about " + Seconds(fit.predicted.wall_s) +
                   " even with the fastest settings (x264 " + fit.settings.preset + ", at most " +
                   std::to_string(fit.settings.max_fps) + " fps), more than the " +
                   Seconds(seconds_left) + " left of VIDEO_PROCESSING_TIMEOUT (" +
                   std::to_string(timeout_s) + " s). Set VIDEO_PROCESSING_TIMEOUT to at least " +
                   std::to_string(std::max(needed_s, timeout_s + 1)) + " and retry the video.");
    return fit;
  }
  fit.cheaper =
      fit.settings.preset != configured.preset || fit.settings.max_fps != configured.max_fps;
  if (fit.cheaper) {
    fit.reason = "predicted " + Seconds(predict(configured, shared_cores).wall_s) + " with x264 " +
                 configured.preset + " at most " + std::to_string(configured.max_fps) + " fps" +
                 (shared_cores < cores.now ? " while sharing the cores with the other slots" : "") +
                 ", over " + std::to_string(std::lround(kTimeShareToFit * 100)) + " % of the " +
                 Seconds(seconds_left) + " left of VIDEO_PROCESSING_TIMEOUT";
  }
  return fit;
}

nlohmann::json AdmissionJson(const Fit& fit) {
  nlohmann::json j = {{"predicted_memory_mb", std::lround(fit.predicted.peak_memory_mb)},
                      {"predicted_seconds", std::lround(fit.predicted.wall_s)},
                      {"preset", fit.settings.preset},
                      {"max_fps", fit.settings.max_fps},
                      {"fitted_to_timeout", fit.cheaper}};
  if (fit.cheaper) j["reason"] = fit.reason;
  return j;
}

}  // namespace vidproc::worker
