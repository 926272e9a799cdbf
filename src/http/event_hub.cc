#include "http/event_hub.h"

#include "core/log.h"
#include "core/loop_guard.h"
#include "core/text.h"

namespace vidproc::http {
namespace {

// Changes are re-read this far behind the cursor: records committed by other processes with a
// slightly older timestamp (clock skew, a transaction that took a while) are not missed.
constexpr int64_t kOverlapMs = 3000;
constexpr int kBatch = 2000;
// A client this far behind is cut off; it reconnects with Last-Event-ID and catches up.
constexpr size_t kMaxQueuedFrames = 2000;
// The longest wait between polls while the change feed cannot be read.
constexpr int64_t kMaxBackoffMs = 10'000;

}  // namespace

std::deque<std::string> Subscriber::Take() {
  std::lock_guard lock(mutex_);
  return std::exchange(queued_, {});
}

void Subscriber::Push(const std::string& frame, size_t max_queued) {
  {
    std::lock_guard lock(mutex_);
    if (queued_.size() >= max_queued) {
      open_ = false;
    } else {
      queued_.push_back(frame);
    }
  }
  Wake();
}

void Subscriber::Close() {
  open_ = false;
  Wake();
}

void Subscriber::Wake() {
  // The timer belongs to the stream's executor: cancel it there.
  boost::asio::post(wake_.get_executor(), [self = shared_from_this()] { self->wake_.cancel(); });
}

EventHub::EventHub(queue::JobStore* store, const Clock* clock,
                   std::function<std::string(const queue::Video&)> render, int64_t poll_ms)
    : store_(store), clock_(clock), render_(std::move(render)), poll_ms_(poll_ms) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  poller_ = std::thread([this] { PollLoop(); });
}

void EventHub::Stop() {
  // The hub lets go of its subscribers: each stream still holds its own, and releases it (and the
  // timer bound to its io_context) on that context, before the context itself is destroyed.
  std::set<std::shared_ptr<Subscriber>> closing;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !poller_.joinable()) return;
    stopping_ = true;
    closing.swap(subscribers_);
  }
  for (const auto& s : closing) s->Close();
  closing.clear();
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::shared_ptr<Subscriber> EventHub::Subscribe(boost::asio::any_io_executor executor) {
  auto subscriber = std::make_shared<Subscriber>(executor);
  std::lock_guard lock(mutex_);
  if (stopping_) {
    subscriber->open_ = false;
    return subscriber;
  }
  if (subscribers_.empty()) {
    cursor_ms_ = clock_->NowMs();  // nobody listened: start from now
    sent_.clear();
  }
  subscribers_.insert(subscriber);
  wake_.notify_all();
  return subscriber;
}

void EventHub::Unsubscribe(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(subscriber);
}

std::string EventHub::VideoFrame(const queue::Video& video) const {
  return "id: " + std::to_string(video.updated_at_ms) + "\nevent: video\ndata: " + render_(video) +
         "\n\n";
}

void EventHub::PublishDeleted(const std::string& id) {
  Broadcast("id: " + std::to_string(clock_->NowMs()) +
            "\nevent: deleted\ndata: " + DumpJson({{"id", SanitizeText(id)}}) + "\n\n");
}

void EventHub::Broadcast(const std::string& frame) {
  std::lock_guard lock(mutex_);
  for (const auto& s : subscribers_) s->Push(frame, kMaxQueuedFrames);
}

void EventHub::PollLoop() {
  LoopGuard guard("event poller", {.first_ms = poll_ms_, .max_ms = kMaxBackoffMs});
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (subscribers_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !subscribers_.empty(); });
      continue;
    }
    lock.unlock();
    (void)guard.Run([this] { return PollOnce(); });  // the guard logs a failure
    lock.lock();
    clock_->WaitFor(wake_, lock, guard.failures() ? guard.delay_ms() : poll_ms_,
                    [this] { return stopping_; });
  }
}

Status EventHub::PollOnce() {
  int64_t since;
  {
    std::lock_guard lock(mutex_);
    since = cursor_ms_ - kOverlapMs;
  }
  ASSIGN_OR_RETURN(auto changed, store_->ListChangedSince(since, kBatch));
  std::lock_guard lock(mutex_);
  for (const auto& video : changed) {
    auto [it, inserted] = sent_.try_emplace(video.id, video.updated_at_ms);
    if (!inserted) {
      if (it->second >= video.updated_at_ms) continue;
      it->second = video.updated_at_ms;
    }
    cursor_ms_ = std::max(cursor_ms_, video.updated_at_ms);
    // A change that cannot be rendered is skipped (logged with its video), not retried: it
    // would fail the same way at every poll and hold back every change after it.
    std::string frame;
    Status rendered = GuardRecord("event", {{"video", video.id}}, [&] {
      frame = VideoFrame(video);
      return Status::Ok();
    });
    if (!rendered.ok()) continue;
    for (const auto& s : subscribers_) s->Push(frame, kMaxQueuedFrames);
  }
  // Forget what can no longer be re-read.
  for (auto it = sent_.begin(); it != sent_.end();) {
    it = it->second < cursor_ms_ - 2 * kOverlapMs ? sent_.erase(it) : std::next(it);
  }
  return Status::Ok();
}

}  // namespace vidproc::http
