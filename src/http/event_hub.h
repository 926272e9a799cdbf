// Live events for /api/v1/events. One poller per process reads the database's change feed
// (JobStore::ListChangedSince) and fans each change out to every open stream, so changes made by
// any process on the database (this node's workers, other machines' workers, other API nodes)
// reach every client, and a client that reconnects with Last-Event-ID catches up from the same
// feed. Streams are coroutines on the I/O threads; the hub wakes them through their executor.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/status.h"
#include "queue/job_store.h"

namespace vidproc::http {

// One open event stream: frames queued by the hub, taken by the stream's coroutine.
class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  explicit Subscriber(boost::asio::any_io_executor executor) : wake_(executor) {}

  // Called by the stream on its executor: everything queued so far.
  std::deque<std::string> Take();
  // False when the stream must end (the hub stopped, or the client fell too far behind).
  bool open() const { return open_; }
  boost::asio::steady_timer& wake_timer() { return wake_; }

 private:
  friend class EventHub;
  void Push(const std::string& frame, size_t max_queued);
  void Close();
  void Wake();

  boost::asio::steady_timer wake_;
  std::mutex mutex_;
  std::deque<std::string> queued_;
  std::atomic<bool> open_{true};
};

class EventHub {
 public:
  // `render` turns a video into the resource clients see (with its URLs).
  EventHub(queue::JobStore* store, const Clock* clock,
           std::function<std::string(const queue::Video&)> render, int64_t poll_ms = 250);
  ~EventHub();

  void Start();
  void Stop();  // ends every stream

  std::shared_ptr<Subscriber> Subscribe(boost::asio::any_io_executor executor);
  void Unsubscribe(const std::shared_ptr<Subscriber>& subscriber);
  // A deletion leaves nothing in the change feed: this process announces its own at once.
  void PublishDeleted(const std::string& id);

  // The SSE frame of a video change ("id: <updated_at>\nevent: video\ndata: {...}\n\n").
  std::string VideoFrame(const queue::Video& video) const;

 private:
  // Polls under a LoopGuard: a failed or throwing poll is logged and retried with backoff.
  void PollLoop();
  // One read of the change feed, fanned out.
  Status PollOnce();
  void Broadcast(const std::string& frame);

  queue::JobStore* store_;
  const Clock* clock_;
  std::function<std::string(const queue::Video&)> render_;
  const int64_t poll_ms_;
  std::thread poller_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::set<std::shared_ptr<Subscriber>> subscribers_;
  // The poller's position in the feed, and what it already sent near that position.
  int64_t cursor_ms_ = 0;
  std::map<std::string, int64_t> sent_;
};

}  // namespace vidproc::http
