#pragma once

#include <chrono>
#include <string>

namespace vidproc::cli {

enum class ProgressMode { kNone, kBar, kJson };

// Resolves "auto|bar|json|none"; auto is a bar when stderr is a terminal, else none.
bool ParseProgressMode(const std::string& text, ProgressMode* mode);

// Shows progress as a terminal bar with ETA (stderr) or as JSON lines (stdout), throttled.
class ProgressReporter {
 public:
  explicit ProgressReporter(ProgressMode mode);
  void Update(double processed_s, double total_s);
  // Clears the bar line.
  void Finish();

 private:
  ProgressMode mode_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_;
  bool drew_ = false;
  bool reported_ = false;
};

}  // namespace vidproc::cli
