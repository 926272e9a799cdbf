#pragma once

#include <atomic>

namespace vidproc {

// Set from any thread (a signal handler, a timeout watcher); polled by long-running work, which
// stops within about a second and returns ErrorCode::kCancelled.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace vidproc
