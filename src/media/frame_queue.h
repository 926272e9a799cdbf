// Hands decoded pictures and encoded audio packets from the reading thread to the encoding
// thread, so that demuxing, decoding and scaling run in parallel with x264. Bounded by pictures
// (a full queue blocks the reader), so memory stays at a few frames whatever the speeds.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <variant>

#include "core/status.h"
#include "media/av_ptr.h"

namespace vidproc::media {

class FrameQueue {
 public:
  struct VideoFrame {
    FramePtr frame;  // null: end of the video stream
  };
  struct AudioPacket {
    PacketPtr packet;
  };
  struct End {};
  using Item = std::variant<VideoFrame, AudioPacket, End>;

  explicit FrameQueue(size_t max_frames) : max_frames_(max_frames) {}

  // Blocks while the queue holds max_frames pictures. False once the queue is closed.
  bool Push(Item item);
  // Blocks until an item is there. Returns End once the queue is closed and drained.
  Item Pop();
  // Wakes both sides; further pushes fail. Either side may call it (on error or at the end).
  void Close();

 private:
  const size_t max_frames_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> items_;  // GUARDED_BY(mutex_)
  size_t frames_ = 0;       // GUARDED_BY(mutex_): pictures in items_
  bool closed_ = false;     // GUARDED_BY(mutex_)
};

}  // namespace vidproc::media
