#include "media/frame_queue.h"

namespace vidproc::media {

bool FrameQueue::Push(Item item) {
  const bool is_frame = std::holds_alternative<VideoFrame>(item);
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return closed_ || !is_frame || frames_ < max_frames_; });
  if (closed_) return false;
  items_.push_back(std::move(item));
  if (is_frame) ++frames_;
  changed_.notify_all();
  return true;
}

FrameQueue::Item FrameQueue::Pop() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return closed_ || !items_.empty(); });
  Item item{End{}};
  if (!items_.empty()) {
    item.swap(items_.front());
    items_.pop_front();
    if (std::holds_alternative<VideoFrame>(item)) --frames_;
    changed_.notify_all();
  }
  return item;
}

void FrameQueue::Close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

}  // namespace vidproc::media
