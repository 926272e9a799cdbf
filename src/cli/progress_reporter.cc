#include "cli/progress_reporter.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace vidproc::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBarInterval = std::chrono::milliseconds(200);
constexpr auto kJsonInterval = std::chrono::milliseconds(500);

}  // namespace

bool ParseProgressMode(const std::string& text, ProgressMode* mode) {
  if (text == "auto") {
    *mode = isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kNone;
  } else if (text == "bar") {
    *mode = ProgressMode::kBar;
  } else if (text == "json") {
    *mode = ProgressMode::kJson;
  } else if (text == "none") {
    *mode = ProgressMode::kNone;
  } else {
    return false;
  }
  return true;
}

ProgressReporter::ProgressReporter(ProgressMode mode)
    : mode_(mode), started_(Clock::now()), last_(started_) {}

void ProgressReporter::Update(double processed_s, double total_s) {
  if (mode_ == ProgressMode::kNone) return;
  auto now = Clock::now();
  if (reported_ && now - last_ < (mode_ == ProgressMode::kBar ? kBarInterval : kJsonInterval)) {
    return;
  }
  reported_ = true;
  last_ = now;
  double fraction = total_s > 0 ? std::clamp(processed_s / total_s, 0.0, 1.0) : 0.0;
  double elapsed = std::chrono::duration<double>(now - started_).count();
  double eta = fraction > 0.01 ? elapsed * (1 - fraction) / fraction : -1;
  if (mode_ == ProgressMode::kJson) {
    nlohmann::json j = {
        {"event", "progress"},
        {"progress", std::round(fraction * 1000) / 1000},
        {"processed_s", std::round(processed_s * 100) / 100},
        {"total_s", std::round(total_s * 100) / 100},
        {"eta_s", eta < 0 ? nlohmann::json(nullptr) : nlohmann::json(std::lround(eta))}};
    std::printf("%s\n", DumpJson(j).c_str());
    std::fflush(stdout);
    return;
  }
  constexpr int kWidth = 30;
  int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  char eta_text[32] = "--:--";
  if (eta >= 0)
    std::snprintf(eta_text, sizeof eta_text, "%02ld:%02ld", std::lround(eta) / 60,
                  std::lround(eta) % 60);
  std::fprintf(stderr, "\r[%s] %5.1f%%  %.1f/%.1f s  ETA %s ", bar.c_str(), fraction * 100,
               processed_s, total_s, eta_text);
  std::fflush(stderr);
  drew_ = true;
}

void ProgressReporter::Finish() {
  if (drew_) std::fprintf(stderr, "\r%*s\r", 70, "");
  drew_ = false;
}

}  // namespace vidproc::cli
