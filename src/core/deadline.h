// A time limit that starts when it is made, on a Clock's monotonic time (so a test can run it
// out with ManualClock::Advance). One unit: milliseconds.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/clock.h"

namespace vidproc {

class Deadline {
 public:
  // `clock` must outlive the deadline.
  Deadline(const Clock* clock, int64_t limit_ms)
      : clock_(clock), limit_ms_(limit_ms), started_ms_(clock->MonotonicMs()) {}

  int64_t limit_ms() const { return limit_ms_; }
  int64_t ElapsedMs() const { return clock_->MonotonicMs() - started_ms_; }
  // Never negative.
  int64_t RemainingMs() const { return std::max<int64_t>(0, limit_ms_ - ElapsedMs()); }
  bool Expired() const { return ElapsedMs() >= limit_ms_; }

 private:
  const Clock* clock_;
  int64_t limit_ms_;
  int64_t started_ms_;
};

}  // namespace vidproc
