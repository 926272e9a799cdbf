// The running job's HLS, published as the child makes it: each segment the child announces is
// uploaded by a thread of its own (the job's loop, which renews the lease and watches the
// deadline, never waits for storage), and the video is marked playable once a player can start.
// The job ends it one of three ways: Finish() publishes the last segments and the closed
// playlists, Withdraw() deletes what was published (a failed or released attempt: no playlist
// is left naming segments that will never come), or neither when the lease was lost (the
// publication is another worker's now).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "queue/job_store.h"
#include "storage/hls_publication.h"

namespace vidproc::worker {

class LiveHls {
 public:
  // `dir` is the child's HLS directory. Publishing starts with the first SegmentReady().
  LiveHls(queue::JobStore* store, storage::BlobStore* blobs, const queue::Claim& claim,
          std::string dir, const Clock* clock);
  ~LiveHls();  // Stop()
  LiveHls(const LiveHls&) = delete;
  LiveHls& operator=(const LiveHls&) = delete;

  // The child wrote a segment and the playlist naming it.
  void SegmentReady();
  // Waits for the publishing thread. Idempotent.
  void Stop();
  // REQUIRES: Stop(). Publishes everything the finished child left.
  Status Finish();
  // REQUIRES: Stop(), or no SegmentReady() yet. Deletes the video's HLS objects, playlists first;
  // failures are logged (a retry withdraws again before it publishes).
  void Withdraw();
  // Seconds from construction to the first moment a player could start; -1 if never.
  double playable_after_s() const { return playable_after_s_; }

 private:
  void Run();

  queue::JobStore* store_;
  const std::string video_id_;
  const std::string lease_token_;
  const Clock* clock_;
  const int64_t started_ms_;
  storage::HlsPublication publication_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stopping_ = false;
  bool marked_playable_ = false;
  double playable_after_s_ = -1;
  storage::BlobStore* blobs_;
  std::thread thread_;
};

}  // namespace vidproc::worker
