// The keys a ready video has in storage, for tests that check a bucket or a directory holds
// exactly the outputs: no original left, no orphan, nothing twice.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// The HLS a ready video's recorded output says was stored: the master playlist, and for each
// rung its playlist, init segment and segments. None without HLS.
inline std::vector<std::string> HlsKeysOf(const std::string& id, const nlohmann::json& output) {
  std::vector<std::string> keys;
  if (!output.is_object() || !output.value("hls", nlohmann::json()).is_object()) return keys;
  const nlohmann::json& hls = output["hls"];
  keys.push_back(storage::HlsKey(id, "master.m3u8"));
  for (const auto& rung : hls.value("rungs", nlohmann::json::array())) {
    const std::string playlist = rung.value("playlist", "");
    const std::string name = playlist.substr(0, playlist.size() - 5);  // "720p.m3u8" -> "720p"
    keys.push_back(storage::HlsKey(id, playlist));
    keys.push_back(storage::HlsKey(id, name + "-init.mp4"));
    for (int i = 0; i < hls.value("segments", 0); ++i) {
      char segment[32];
      std::snprintf(segment, sizeof segment, "-%05d.m4s", i);
      keys.push_back(storage::HlsKey(id, name + segment));
    }
  }
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

// Everything under a ready video's own keys, sorted, from its recorded `output` (the store's, or
// the resource's): its MP4 (unless only HLS was stored), thumbnail, the thumbnail's copies, its
// HLS and its storyboard. `replaced_source`: the MP4 and thumbnail went to the import's source
// key instead.
inline std::vector<std::string> ReadyVideoKeys(const std::string& id, const nlohmann::json& output,
                                               bool replaced_source = false) {
  std::vector<int> widths;
  for (const auto& w : output.value("thumbnail_widths", nlohmann::json::array())) {
    widths.push_back(w.get<int>());
  }
  std::vector<std::string> keys = ThumbnailCopyKeys(id, widths);
  const std::vector<std::string> hls = HlsKeysOf(id, output);
  keys.insert(keys.end(), hls.begin(), hls.end());
  const auto storyboard = output.value("storyboard", nlohmann::json());
  if (storyboard.is_object()) {
    for (const std::string& key : StoryboardKeys(id, storyboard.value("sheets", 0))) {
      keys.push_back(key);
    }
  }
  if (!replaced_source) {
    keys.push_back(storage::ThumbnailKey(id));
    const auto outputs = output.value("outputs", nlohmann::json::array({"mp4"}));
    if (std::find(outputs.begin(), outputs.end(), "mp4") != outputs.end()) {
      keys.push_back(storage::VideoKey(id));
    }
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace vidproc::testing
