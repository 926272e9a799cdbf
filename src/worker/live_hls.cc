#include "worker/live_hls.h"

#include "core/log.h"

namespace vidproc::worker {

LiveHls::LiveHls(queue::JobStore* store, storage::BlobStore* blobs, const queue::Claim& claim,
                 std::string dir, const Clock* clock)
    : store_(store),
      video_id_(claim.video.id),
      lease_token_(claim.lease_token),
      clock_(clock),
      started_ms_(clock->MonotonicMs()),
      publication_(blobs, claim.video.id, std::move(dir)),
      blobs_(blobs) {
  thread_ = std::thread([this] { Run(); });
}

LiveHls::~LiveHls() { Stop(); }

void LiveHls::SegmentReady() {
  std::lock_guard lock(mutex_);
  pending_ = true;
  wake_.notify_one();
}

void LiveHls::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void LiveHls::Run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return pending_ || stopping_; });
      if (stopping_) return;
      pending_ = false;
    }
    // Announcements that arrive while this pass uploads are folded into the next pass.
    Status s = publication_.PublishChanges();
    if (!s.ok()) {
      // Not the job's failure: the final publication uploads everything again, and fails the
      // job if storage is still down then.
      LogWarning("cannot publish HLS segments yet",
                 {{"video", video_id_}, {"reason", s.message()}});
      continue;
    }
    if (publication_.playable() && !marked_playable_) {
      marked_playable_ = true;
      playable_after_s_ = (clock_->MonotonicMs() - started_ms_) / 1000.0;
      Status marked = store_->MarkPlayable(video_id_, lease_token_);
      if (!marked.ok()) {
        LogWarning("cannot mark the video playable",
                   {{"video", video_id_}, {"reason", marked.message()}});
      } else {
        LogInfo("playable", {{"video", video_id_},
                             {"after_s", playable_after_s_},
                             {"segments", publication_.segments_published()}});
      }
    }
  }
}

Status LiveHls::Finish() { return publication_.PublishChanges(); }

void LiveHls::Withdraw() {
  if (Status s = storage::WithdrawHls(blobs_, video_id_); !s.ok()) {
    LogWarning("cannot withdraw the published HLS",
               {{"video", video_id_}, {"reason", s.message()}});
  }
}

}  // namespace vidproc::worker
