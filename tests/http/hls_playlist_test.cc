// Playlists as the API serves them (http/hls_playlist.h): every name the engine wrote becomes a
// URL that works on its own, and nothing else the stored text says reaches a player.
#include "http/hls_playlist.h"

#include <gtest/gtest.h>

#include "storage/blob_store.h"

namespace vidproc::http {
namespace {

std::string ToUrl(const std::string& name) { return "https://cdn.test/x/" + name + "?sig=1"; }

TEST(HlsPlaylistTest, EveryNameBecomesItsUrl) {
  const std::string media =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-MAP:URI=\"720p-init.mp4\"\n#EXTINF:4.000000,\n720p-00000.m4s\n"
      "#EXTINF:2.500000,\n720p-00001.m4s\n#EXT-X-ENDLIST\n";
  EXPECT_EQ(RewritePlaylist(media, ToUrl),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-MAP:URI=\"https://cdn.test/x/720p-init.mp4?sig=1\"\n#EXTINF:4.000000,\n"
            "https://cdn.test/x/720p-00000.m4s?sig=1\n#EXTINF:2.500000,\n"
            "https://cdn.test/x/720p-00001.m4s?sig=1\n#EXT-X-ENDLIST\n");
  const std::string master =
      "#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=1800000,RESOLUTION=1280x720,"
      "CODECS=\"avc1.64001f,mp4a.40.2\"\r\n720p.m3u8\r\n";
  EXPECT_EQ(RewritePlaylist(master, ToUrl),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1800000,RESOLUTION=1280x720,"
            "CODECS=\"avc1.64001f,mp4a.40.2\"\nhttps://cdn.test/x/720p.m3u8?sig=1\n");
}

TEST(HlsPlaylistTest, WhatTheEngineDoesNotWriteIsDropped) {
  // A transcoder that read a hostile file could write anything into its directory.
  const std::string hostile =
      "#EXTM3U\n"
      "#EXT-X-KEY:METHOD=AES-128,URI=\"https://evil.test/key\"\n"  // an unknown tag, with a URI
      "#EXT-X-MAP:URI=\"../../original\"\n"                        // a path out of the video
      "#EXT-X-MAP:URI=\"720p-init.mp4\" junk\n"                    // not just the quoted name
      "#EXTINF:4,\nhttps://evil.test/segment.m4s\n"                // an absolute URL
      "#EXTINF:4,\n../thumbnail.jpg\n"                             // another key of the video
      "#EXTINF:4,\n720p-00000.m4s\x1b[2J\n"                        // a control character
      "#EXTINF:4,\n720p-0000.m4s\n"                                // not the engine's numbering
      "720p-00009.m4s\n"                                           // a URI without #EXTINF
      "#EXTINF:4,\n720p-00001.m4s\n";
  EXPECT_EQ(RewritePlaylist(hostile, ToUrl),
            "#EXTM3U\n#EXTINF:4,\nhttps://cdn.test/x/720p-00001.m4s?sig=1\n");
}

TEST(HlsFileNameTest, OnlyTheNamesTheEngineGives) {
  for (const char* good : {"master.m3u8", "720p.m3u8", "360p.m3u8", "720p-init.mp4",
                           "720p-00000.m4s", "1080p-12345.m4s"}) {
    EXPECT_TRUE(storage::IsHlsFileName(good)) << good;
  }
  for (const char* bad :
       {"", "m3u8", ".720p.m3u8.tmp", "p.m3u8", "0720p.m3u8", "720.m3u8", "720p-1.m4s",
        "720p-000001.m4s", "720p-0000a.m4s", "720p-00000.ts", "720p/00000.m4s", "../720p.m3u8",
        "720p.m3u8/x", "video.mp4", "master.m3u8 ", "123456p.m3u8"}) {
    EXPECT_FALSE(storage::IsHlsFileName(bad)) << bad;
  }
  EXPECT_TRUE(storage::IsProcessedOutputKey(storage::HlsKey("abc", "720p-00001.m4s")));
  EXPECT_FALSE(storage::IsProcessedOutputKey("videos/abc/hls/original"));
  EXPECT_FALSE(storage::IsProcessedOutputKey("videos/abc/hls/x/720p.m3u8"));
  EXPECT_EQ(storage::HlsContentType("720p.m3u8"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(storage::HlsContentType("720p-00001.m4s"), "video/iso.segment");
  EXPECT_EQ(storage::HlsContentType("720p-init.mp4"), "video/mp4");
}

}  // namespace
}  // namespace vidproc::http
