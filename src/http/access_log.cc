#include "http/access_log.h"

#include "core/log.h"
#include "core/loop_guard.h"

namespace vidproc::http {

AccessLog::AccessLog(size_t max_queued) : max_queued_(max_queued) {
  writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void AccessLog::Add(const ExchangeRecord& record) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queued_) {
      ++dropped_;
      return;
    }
    queue_.push_back(record);
  }
  wake_.notify_one();
}

void AccessLog::Run() {
  // Writing a batch never throws in practice; if it did (out of memory), the batch is lost and
  // the writer goes on: the access log never ends the process.
  LoopGuard guard("access log writer");
  std::unique_lock lock(mutex_);
  int64_t reported_drops = 0;
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) break;
    std::deque<ExchangeRecord> batch = std::exchange(queue_, {});
    int64_t drops = dropped_ - reported_drops;
    reported_drops = dropped_;
    lock.unlock();
    (void)guard.Run([&batch, drops] {
      if (drops > 0) {
        LogWarning("access log lines dropped: the log could not keep up", {{"lines", drops}});
      }
      for (const auto& r : batch) {
        LogInfo("http", {{"method", r.method},
                         {"route", r.route},
                         {"status", r.status},
                         {"bytes", r.bytes_sent},
                         {"ms", static_cast<int64_t>(r.seconds * 1000 + 0.5)},
                         {"request_id", r.request_id}});
      }
      return Status::Ok();
    });
    lock.lock();
  }
}

}  // namespace vidproc::http
