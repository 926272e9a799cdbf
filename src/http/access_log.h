// The access log, written by a thread of its own: a request's line is queued by the I/O thread
// that answered it and written (core/log) by this thread, so a slow log disk (the kernel
// throttling writers while it flushes an upload) never stalls the connections. When the queue is
// full, lines are counted and dropped rather than waited for; the count is logged.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "http/server.h"

namespace vidproc::http {

class AccessLog {
 public:
  explicit AccessLog(size_t max_queued = 10'000);
  ~AccessLog();  // writes what is queued, then stops

  void Add(const ExchangeRecord& record);

 private:
  void Run();

  const size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ExchangeRecord> queue_;
  int64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace vidproc::http
