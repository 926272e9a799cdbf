// The keys a ready video has in storage, for tests that check a bucket or a directory holds
// exactly the outputs: no original left, no orphan, nothing twice.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "storage/blob_store.h"

namespace vidproc::testing {

// The thumbnail's smaller copies of `widths` (by default all of them, as every fixture of 720p
// or more gets: its thumbnail is at least 640 px wide).
inline std::vector<std::string> ThumbnailCopyKeys(const std::string& id,
                                                  const std::vector<int>& widths = {
                                                      storage::kThumbnailWidths.begin(),
                                                      storage::kThumbnailWidths.end()}) {
  std::vector<std::string> keys;
  for (int w : widths) keys.push_back(storage::ThumbnailVariantKey(id, w));
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Everything under a ready video's own keys, sorted: its MP4, its thumbnail and the copies.
inline std::vector<std::string> ReadyVideoKeys(const std::string& id,
                                               const std::vector<int>& widths = {
                                                   storage::kThumbnailWidths.begin(),
                                                   storage::kThumbnailWidths.end()}) {
  std::vector<std::string> keys = ThumbnailCopyKeys(id, widths);
  keys.push_back(storage::ThumbnailKey(id));
  keys.push_back(storage::VideoKey(id));
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace vidproc::testing
