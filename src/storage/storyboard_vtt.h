// The storyboard's WebVTT index as vidproc stores and serves it. The transcoder writes it (the
// child that read a hostile file: its words are untrusted), the worker parses it strictly and
// stores its own rendering of what parsed, and the API parses the stored one again to point
// each cue at a URL the client can fetch. Nothing but cues of this form ever reaches a player:
//
//   WEBVTT
//
//   00:00:00.000 --> 00:00:02.000
//   storyboard-1.jpg#xywh=0,0,160,90
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vidproc::storage {

struct StoryboardCue {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int sheet = 0;  // 1-based
  int x = 0, y = 0, width = 0, height = 0;
};

// The index's Content-Type, stored with it and served.
inline constexpr char kStoryboardIndexType[] = "text/vtt; charset=utf-8";

// What an index may weigh, in bytes: ~60 per cue, a few hundred cues.
inline constexpr int64_t kMaxStoryboardIndexBytes = 1 << 20;

// The cues of `text`. Refused (kInvalidArgument) unless it is "WEBVTT", then cues each of a
// "HH:MM:SS.mmm --> HH:MM:SS.mmm" line (start <= end, starts not decreasing) and a
// "storyboard-N.jpg#xywh=x,y,w,h" line, separated by blank lines; N within 1..max_sheet; at
// least one cue.
Result<std::vector<StoryboardCue>> ParseStoryboardIndex(std::string_view text, int max_sheet);

// The index of `cues`, each picture at sheet_url(sheet) + "#xywh=...".
std::string FormatStoryboardIndex(const std::vector<StoryboardCue>& cues,
                                  const std::function<std::string(int sheet)>& sheet_url);

}  // namespace vidproc::storage
