#include "storage/storyboard_vtt.h"

#include <cinttypes>
#include <cstdio>

#include "storage/blob_store.h"

namespace vidproc::storage {
namespace {

constexpr size_t kMaxCues = 10'000;
constexpr int kMaxCoordinate = 65'535;  // JPEG's largest side

// A run of 1..max_digits ASCII digits at the front of `s`, consumed.
bool TakeNumber(std::string_view* s, size_t max_digits, int64_t* value) {
  size_t n = 0;
  int64_t v = 0;
  while (n < s->size() && n < max_digits && (*s)[n] >= '0' && (*s)[n] <= '9') {
    v = v * 10 + ((*s)[n] - '0');
    ++n;
  }
  if (n == 0 || (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9')) return false;
  s->remove_prefix(n);
  *value = v;
  return true;
}

bool TakeLiteral(std::string_view* s, std::string_view literal) {
  if (!s->starts_with(literal)) return false;
  s->remove_prefix(literal.size());
  return true;
}

// "HH:MM:SS.mmm" (hours of two or more digits), consumed.
bool TakeTime(std::string_view* s, int64_t* ms) {
  int64_t h, m, sec, milli;
  std::string_view rest = *s;
  if (!TakeNumber(&rest, 4, &h) || !TakeLiteral(&rest, ":") || !TakeNumber(&rest, 2, &m) ||
      !TakeLiteral(&rest, ":") || !TakeNumber(&rest, 2, &sec) || !TakeLiteral(&rest, ".")) {
    return false;
  }
  const std::string_view milli_digits = rest.substr(0, 3);
  if (milli_digits.size() != 3 || !TakeNumber(&rest, 3, &milli) || m > 59 || sec > 59) {
    return false;
  }
  *ms = ((h * 60 + m) * 60 + sec) * 1000 + milli;
  *s = rest;
  return true;
}

std::string VttTime(int64_t ms) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%03" PRId64,
                ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
  return buf;
}

}  // namespace

Result<std::vector<StoryboardCue>> ParseStoryboardIndex(std::string_view text, int max_sheet) {
  auto refuse = [](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "The storyboard index is malformed: " + why + ".");
  };
  if (static_cast<int64_t>(text.size()) > kMaxStoryboardIndexBytes) return refuse("too large");
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  if (lines.empty() || lines[0] != "WEBVTT") return refuse("it does not start with WEBVTT");
  std::vector<StoryboardCue> cues;
  for (size_t i = 1; i < lines.size();) {
    if (lines[i].empty()) {
      ++i;
      continue;
    }
    if (i + 1 >= lines.size() || cues.size() >= kMaxCues) return refuse("a cue is incomplete");
    StoryboardCue cue;
    std::string_view timing = lines[i];
    if (!TakeTime(&timing, &cue.start_ms) || !TakeLiteral(&timing, " --> ") ||
        !TakeTime(&timing, &cue.end_ms) || !timing.empty() || cue.end_ms < cue.start_ms ||
        (!cues.empty() && cue.start_ms < cues.back().start_ms)) {
      return refuse("line " + std::to_string(i + 1) + " is not a cue's timing");
    }
    std::string_view picture = lines[i + 1];
    int64_t sheet = 0, v[4] = {};
    const size_t hash = picture.find('#');
    const auto number = StoryboardSheetNumber(picture.substr(0, hash));
    if (hash == std::string_view::npos || !number) {
      return refuse("line " + std::to_string(i + 2) + " does not name a sheet");
    }
    sheet = *number;
    picture.remove_prefix(hash);
    bool ok = TakeLiteral(&picture, "#xywh=");
    for (int k = 0; ok && k < 4; ++k) {
      ok = (k == 0 || TakeLiteral(&picture, ",")) && TakeNumber(&picture, 5, &v[k]) &&
           v[k] <= kMaxCoordinate;
    }
    if (!ok || !picture.empty() || sheet > max_sheet || v[2] == 0 || v[3] == 0) {
      return refuse("line " + std::to_string(i + 2) + " is not a tile of a sheet");
    }
    cue.sheet = static_cast<int>(sheet);
    cue.x = static_cast<int>(v[0]);
    cue.y = static_cast<int>(v[1]);
    cue.width = static_cast<int>(v[2]);
    cue.height = static_cast<int>(v[3]);
    cues.push_back(cue);
    i += 2;
    if (i < lines.size() && !lines[i].empty()) return refuse("a cue has more than two lines");
  }
  if (cues.empty()) return refuse("it has no cue");
  return cues;
}

std::string FormatStoryboardIndex(const std::vector<StoryboardCue>& cues,
                                  const std::function<std::string(int sheet)>& sheet_url) {
  std::string text = "WEBVTT\n";
  for (const StoryboardCue& c : cues) {
    text += "\n" + VttTime(c.start_ms) + " --> " + VttTime(c.end_ms) + "\n" + sheet_url(c.sheet) +
            "#xywh=" + std::to_string(c.x) + "," + std::to_string(c.y) + "," +
            std::to_string(c.width) + "," + std::to_string(c.height) + "\n";
  }
  return text;
}

}  // namespace vidproc::storage
