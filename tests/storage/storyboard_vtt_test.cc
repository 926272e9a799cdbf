// The storyboard index's parser (what the worker and the API let through) and its keys.
#include "storage/storyboard_vtt.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/blob_store.h"

namespace vidproc::storage {
namespace {

constexpr char kIndex[] =
    "WEBVTT\n"
    "\n"
    "00:00:00.000 --> 00:00:02.000\n"
    "storyboard-1.jpg#xywh=0,0,160,90\n"
    "\n"
    "00:00:02.000 --> 01:02:03.456\n"
    "storyboard-2.jpg#xywh=160,90,160,90\n";

TEST(StoryboardIndexTest, ParsesWhatTheEngineWritesAndFormatsItBack) {
  auto cues = ParseStoryboardIndex(kIndex, 2);
  ASSERT_TRUE(cues.ok()) << cues.status().ToString();
  ASSERT_EQ(cues->size(), 2u);
  EXPECT_EQ((*cues)[1].start_ms, 2000);
  EXPECT_EQ((*cues)[1].end_ms, ((1 * 60 + 2) * 60 + 3) * 1000 + 456);
  EXPECT_EQ((*cues)[1].sheet, 2);
  EXPECT_EQ((*cues)[1].x, 160);
  EXPECT_EQ((*cues)[1].y, 90);
  EXPECT_EQ((*cues)[1].width, 160);
  EXPECT_EQ((*cues)[1].height, 90);
  EXPECT_EQ(FormatStoryboardIndex(*cues, [](int n) { return StoryboardSheetName(n); }), kIndex);
  EXPECT_EQ(FormatStoryboardIndex(*cues, [](int n) { return "https://cdn/s" + std::to_string(n); }),
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nhttps://cdn/s1#xywh=0,0,160,90\n\n"
            "00:00:02.000 --> 01:02:03.456\nhttps://cdn/s2#xywh=160,90,160,90\n");
}

TEST(StoryboardIndexTest, RefusesAnythingElse) {
  const std::string cue = "00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,160,90\n";
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           std::string("WEBVTT\n"),                      // no cue
           "WEBVTT FILE\n\n" + cue,                      // not the header we write
           "\n" + cue,                                   // no header
           std::string(kIndex),                          // sheet 2 of a 1-sheet index
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n",  // a cue without its picture
           "WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nstoryboard-1.jpg#xywh=0,0,1,1\n",  // backwards
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nhttps://evil/x.jpg#xywh=0,0,1,1\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n../storyboard-1.jpg#xywh=0,0,1,1\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,160\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,0,90\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,99999,90\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=-1,0,160,90\n",
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000 align:start\nstoryboard-1.jpg#xywh=0,0,1,1\n",
           "WEBVTT\n\nid\n" + cue,                                          // an identifier line
           "WEBVTT\n\n" + cue.substr(0, cue.size() - 1) + "\nNOTE more\n",  // a third line
           "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard-1.jpg#xywh=0,0,1,1<b>\n",
       }) {
    EXPECT_FALSE(ParseStoryboardIndex(bad, 1).ok()) << bad;
  }
  EXPECT_FALSE(ParseStoryboardIndex(std::string(kMaxStoryboardIndexBytes + 1, '\n'), 1).ok());
}

TEST(StoryboardKeysTest, SheetNamesHaveOneSpellingWithinTheCap) {
  EXPECT_EQ(StoryboardKey("abc"), "videos/abc/storyboard/storyboard.vtt");
  EXPECT_EQ(StoryboardSheetKey("abc", 3), "videos/abc/storyboard/storyboard-3.jpg");
  EXPECT_EQ(StoryboardSheetNumber("storyboard-1.jpg"), 1);
  EXPECT_EQ(StoryboardSheetNumber("storyboard-10.jpg"), kMaxStoryboardSheets);
  for (const char* bad : {"storyboard-0.jpg", "storyboard-01.jpg", "storyboard-11.jpg",
                          "storyboard-+1.jpg", "storyboard-.jpg", "storyboard-1.jpeg",
                          "storyboard-1.jpg.partial", "storyboard.vtt", "thumbnail-1.jpg"}) {
    EXPECT_FALSE(StoryboardSheetNumber(bad).has_value()) << bad;
  }
  // Public with public-read storage, as the other processed outputs are.
  EXPECT_TRUE(IsProcessedOutputKey(StoryboardKey("abc123")));
  EXPECT_TRUE(IsProcessedOutputKey(StoryboardSheetKey("abc123", 1)));
  EXPECT_TRUE(IsProcessedOutputKey(StoryboardSheetKey("abc123", kMaxStoryboardSheets)));
  for (const char* key : {"videos/abc123/storyboard/storyboard-11.jpg",
                          "videos/abc123/storyboard/other.vtt", "videos/storyboard/storyboard.vtt",
                          "videos/a/b/storyboard/storyboard.vtt", "videos/abc123/storyboard.vtt"}) {
    EXPECT_FALSE(IsProcessedOutputKey(key)) << key;
  }
}

}  // namespace
}  // namespace vidproc::storage
