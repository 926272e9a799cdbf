// Time as a seam: production code asks a Clock, tests advance a ManualClock by hand.
//
// Like LevelDB's Env (NowMicros, SleepForMicroseconds), a Clock gives the time of day, a
// monotonic reading for durations and deadlines, and sleeping, so that a test can drive
// timeouts, renewals, backoffs and expiries by advancing a ManualClock instead of waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace vidproc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch: for timestamps that are stored or shown.
  virtual int64_t NowMs() const = 0;
  // Milliseconds since an arbitrary origin; never goes back: for durations and deadlines.
  virtual int64_t MonotonicMs() const = 0;
  // Blocks until `ms` of this clock's monotonic time have passed.
  virtual void SleepForMs(int64_t ms) const = 0;
  // Waits on `cv` (with `lock` held, as std::condition_variable::wait_for) until `done()` or
  // until `ms` of this clock's monotonic time have passed; returns done(). Whoever makes done()
  // true must notify `cv` under `lock`'s mutex.
  virtual bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t ms,
                       const std::function<bool()>& done) const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
  void SleepForMs(int64_t ms) const override;
  bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t ms,
               const std::function<bool()>& done) const override;
  static SystemClock* Default() {
    static SystemClock clock;
    return &clock;
  }
};

// Time moves only when Advance is called; sleepers and waiters whose time has come wake then.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  int64_t MonotonicMs() const override { return monotonic_.load(); }
  void SleepForMs(int64_t ms) const override;
  bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t ms,
               const std::function<bool()>& done) const override;

  // Moves both readings forward and wakes every sleeper and waiter to look at the new time.
  void Advance(int64_t ms);
  // Threads blocked in SleepForMs or WaitFor now: a test advances once the code under test is
  // waiting, so that the step is not taken before the wait began.
  int waiters() const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mutex;
  };
  void Add(const Waiter& w) const;
  void Remove(const Waiter& w) const;

  std::atomic<int64_t> now_;
  std::atomic<int64_t> monotonic_{0};
  mutable std::mutex sleep_mutex_;  // for SleepForMs's own wait
  mutable std::condition_variable sleep_cv_;
  mutable std::mutex waiters_mutex_;
  mutable std::vector<Waiter> waiters_;  // GUARDED_BY(waiters_mutex_)
};

// "2026-01-01T12:00:00Z" (RFC 3339, UTC, whole seconds).
std::string FormatRfc3339(int64_t unix_ms);

}  // namespace vidproc
