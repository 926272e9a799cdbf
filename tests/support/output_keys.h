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

// The storyboard's index and its `sheets` sheets, sorted (every fixture is shorter than the 200 s
// one sheet holds).
inline std::vector<std::string> StoryboardKeys(const std::string& id, int sheets = 1) {
  std::vector<std::string> keys = {storage::StoryboardKey(id)};
  for (int n = 1; n <= sheets; ++n) keys.push_back(storage::StoryboardSheetKey(id, n));
  std::sort(keys.begin(), keys.end());
  return keys;
}

// What stays under a ready video's own keys when an import replaced its source (the MP4 and the
// thumbnail went to the source's key): the thumbnail's copies and the storyboard, sorted.
inline std::vector<std::string> OwnKeysOfAReplacedSource(const std::string& id,
                                                         const std::vector<int>& widths) {
  std::vector<std::string> keys = ThumbnailCopyKeys(id, widths);
  for (const std::string& key : StoryboardKeys(id)) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Everything under a ready video's own keys, sorted: its MP4, its thumbnail and the copies, its
// storyboard.
inline std::vector<std::string> ReadyVideoKeys(const std::string& id,
                                               const std::vector<int>& widths = {
                                                   storage::kThumbnailWidths.begin(),
                                                   storage::kThumbnailWidths.end()}) {
  std::vector<std::string> keys = ThumbnailCopyKeys(id, widths);
  for (const std::string& key : StoryboardKeys(id)) keys.push_back(key);
  keys.push_back(storage::ThumbnailKey(id));
  keys.push_back(storage::VideoKey(id));
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace vidproc::testing
