// A job's HLS directory (media/hls_output.h) published into a BlobStore while the job runs and
// once more when it ends, in the one order that never lets a player see a playlist naming a
// segment that is not stored yet: the playlists are read first, then every new segment is
// uploaded, then the playlists as they were read. Withdrawing goes the other way: the playlists
// first, then the segments. The directory was written by the sandboxed child: only names the
// engine gives HLS files (IsHlsFileName) are published.
#pragma once

#include <map>
#include <set>
#include <string>

#include "core/status.h"
#include "storage/blob_store.h"

namespace vidproc::storage {

class HlsPublication {
 public:
  // `blobs` must outlive the publication.
  HlsPublication(BlobStore* blobs, std::string video_id, std::string local_dir)
      : blobs_(blobs), video_id_(std::move(video_id)), dir_(std::move(local_dir)) {}

  // Uploads what changed in the directory since the last call. Segments and init segments are
  // uploaded once (the engine never rewrites them); playlists whenever they changed.
  Status PublishChanges();
  // True once a master playlist and a media playlist are stored: a player can start.
  bool playable() const { return master_published_ && media_published_; }
  int segments_published() const { return segments_published_; }

 private:
  BlobStore* blobs_;
  const std::string video_id_;
  const std::string dir_;
  std::set<std::string> uploaded_;                // immutable files already stored
  std::map<std::string, std::string> playlists_;  // name -> the text stored
  bool master_published_ = false;
  bool media_published_ = false;
  int segments_published_ = 0;
};

// Deletes every HLS object of the video, playlists first. Idempotent.
Status WithdrawHls(BlobStore* blobs, const std::string& video_id);

}  // namespace vidproc::storage
