#include "core/clock.h"

#include <algorithm>
#include <ctime>
#include <thread>

namespace vidproc {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SystemClock::MonotonicMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SystemClock::SleepForMs(int64_t ms) const {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

bool SystemClock::WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          int64_t ms, const std::function<bool()>& done) const {
  return cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(ms, 0)), done);
}

void ManualClock::SleepForMs(int64_t ms) const {
  std::unique_lock lock(sleep_mutex_);
  WaitFor(sleep_cv_, lock, ms, [] { return false; });
}

bool ManualClock::WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          int64_t ms, const std::function<bool()>& done) const {
  const int64_t deadline = MonotonicMs() + ms;
  if (done()) return true;
  if (ms <= 0) return false;
  // Registered without the caller's mutex held: Advance takes waiters_mutex_ and then each
  // waiter's mutex, so taking them the other way round here could deadlock.
  Waiter self{&cv, lock.mutex()};
  lock.unlock();
  Add(self);
  lock.lock();
  // Advance notifies under the caller's mutex, so a step taken after this check cannot be missed.
  while (!done() && MonotonicMs() < deadline) cv.wait(lock);
  bool result = done();
  lock.unlock();
  Remove(self);
  lock.lock();
  return result;
}

void ManualClock::Advance(int64_t ms) {
  now_ += ms;
  monotonic_ += ms;
  std::lock_guard registry(waiters_mutex_);
  for (const Waiter& w : waiters_) {
    std::lock_guard lock(*w.mutex);
    w.cv->notify_all();
  }
}

int ManualClock::waiters() const {
  std::lock_guard registry(waiters_mutex_);
  return static_cast<int>(waiters_.size());
}

void ManualClock::Add(const Waiter& w) const {
  std::lock_guard registry(waiters_mutex_);
  waiters_.push_back(w);
}

void ManualClock::Remove(const Waiter& w) const {
  std::lock_guard registry(waiters_mutex_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const Waiter& x) { return x.cv == w.cv && x.mutex == w.mutex; });
  if (it != waiters_.end()) waiters_.erase(it);
}

std::string FormatRfc3339(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace vidproc
