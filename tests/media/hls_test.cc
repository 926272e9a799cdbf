// HLS written from the same encode as the MP4 (media/hls_output.h), checked by decoding it: the
// playlists against the segments, the segments against each other (continuous, each starting
// at a keyframe), and the pictures against the MP4's.
#include "media/hls_output.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "media/transcoder.h"
#include "media_test_util.h"
#include "support/shell.h"

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;
using vidproc::testing::Shell;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

struct MediaPlaylist {
  std::string type;
  int target = 0;
  std::string map;
  std::vector<std::pair<double, std::string>> segments;
  bool ended = false;
};

MediaPlaylist ParseMedia(const std::string& path) {
  MediaPlaylist p;
  double pending = -1;
  for (const std::string& line : Lines(ReadText(path))) {
    if (line.rfind("#EXT-X-PLAYLIST-TYPE:", 0) == 0) p.type = line.substr(21);
    if (line.rfind("#EXT-X-TARGETDURATION:", 0) == 0) p.target = std::stoi(line.substr(22));
    if (line.rfind("#EXT-X-MAP:URI=\"", 0) == 0) p.map = line.substr(16, line.size() - 17);
    if (line.rfind("#EXTINF:", 0) == 0) pending = std::stod(line.substr(8));
    if (line == "#EXT-X-ENDLIST") p.ended = true;
    if (!line.empty() && line[0] != '#') {
      EXPECT_GE(pending, 0) << "a URI without #EXTINF: " << line;
      p.segments.emplace_back(pending, line);
      pending = -1;
    }
  }
  return p;
}

// "KEY=value" attributes of the master playlist's one #EXT-X-STREAM-INF, and the URI after it.
std::map<std::string, std::string> StreamInf(const std::string& master, std::string* uri) {
  std::map<std::string, std::string> attrs;
  const auto lines = Lines(ReadText(master));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("#EXT-X-STREAM-INF:", 0) != 0) continue;
    std::string rest = lines[i].substr(18);
    while (!rest.empty()) {
      const size_t eq = rest.find('=');
      if (eq == std::string::npos) break;
      std::string key = rest.substr(0, eq), value;
      rest = rest.substr(eq + 1);
      if (!rest.empty() && rest[0] == '"') {
        const size_t close = rest.find('"', 1);
        value = rest.substr(1, close - 1);
        rest = close + 1 < rest.size() ? rest.substr(close + 2) : "";
      } else {
        const size_t comma = rest.find(',');
        value = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      }
      attrs[key] = value;
    }
    if (uri && i + 1 < lines.size()) *uri = lines[i + 1];
  }
  return attrs;
}

// The MD5 of every decoded picture of the first video stream, in order (ffmpeg's framemd5,
// timestamps left out: an MP4's edit list and a fragment's base time may place the same picture
// at different offsets).
std::vector<std::string> PictureHashes(const std::string& input) {
  const std::string out = Shell("ffmpeg -nostdin -hide_banner -loglevel error -i '" + input +
                                "' -map 0:v:0 -f framemd5 - 2>/dev/null");
  std::vector<std::string> hashes;
  for (const std::string& line : Lines(out)) {
    if (line.empty() || line[0] == '#') continue;
    hashes.push_back(line.substr(line.rfind(',') + 1));
  }
  return hashes;
}

struct Made {
  std::string dir;
  std::string mp4;
  Result<TranscodeResult> result = Status(ErrorCode::kInternal, "not run");
  std::vector<int> announced;  // segment counts the listener was told, in order
};

Made TranscodeWithHls(const std::string& fixture, bool allow_passthrough,
                      std::vector<int> renditions = {}) {
  Made m;
  m.dir = MakeTempDir();
  m.mp4 = m.dir + "/video.mp4";
  TranscodeRequest request;
  request.input = Fixture(fixture);
  request.output = m.mp4;
  request.hls_dir = m.dir + "/hls";
  std::filesystem::create_directories(request.hls_dir);
  request.options.allow_passthrough = allow_passthrough;
  request.options.renditions = std::move(renditions);
  request.on_hls_segment = [&m](int segments, double) { m.announced.push_back(segments); };
  m.result = Transcode(request, nullptr, nullptr);
  return m;
}

// Segment `i` as a file a demuxer can open on its own: the init segment, then it.
std::string Standalone(const Made& m, const MediaPlaylist& p, size_t i) {
  const std::string path = m.dir + "/standalone-" + p.map + "-" + std::to_string(i) + ".mp4";
  std::ofstream out(path, std::ios::binary);
  out << ReadText(m.dir + "/hls/" + p.map) << ReadText(m.dir + "/hls/" + p.segments[i].second);
  return path;
}

TEST(HlsOutputTest, SegmentsCoverTheVideoContinuouslyEachFromAKeyframe) {
  Made m = TranscodeWithHls("real_720p.mp4", /*allow_passthrough=*/false);
  ASSERT_TRUE(m.result.ok()) << m.result.status().ToString();
  ASSERT_FALSE(m.result->passthrough);
  const MediaPlaylist p = ParseMedia(m.dir + "/hls/720p.m3u8");
  EXPECT_EQ(p.type, "EVENT");
  EXPECT_TRUE(p.ended);
  EXPECT_EQ(p.map, "720p-init.mp4");
  ASSERT_GE(p.segments.size(), 3u) << "8.3 s: 2 s, then segments of 4 s";
  EXPECT_EQ(m.result->hls_segments, static_cast<int>(p.segments.size()));

  const std::vector<double> mp4_times = VideoFrameTimes(m.mp4);
  ASSERT_FALSE(mp4_times.empty());
  double total = 0;
  double expected_start = -1;
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const double duration = p.segments[i].first;
    EXPECT_LE(duration, p.target + 0.5) << "segment " << i;
    if (i + 1 < p.segments.size()) {
      // The first segment is 2 s (a video being encoded plays sooner), the others 4 s.
      EXPECT_GE(duration, (i == 0 ? 2.0 : 4.0) - 0.01) << "segment " << i;
    }
    total += duration;
    const std::string alone = Standalone(m, p, i);
    const std::vector<double> times = VideoFrameTimes(alone);
    const std::vector<double> keys = VideoFrameTimes(alone, /*keyframes_only=*/true);
    ASSERT_FALSE(times.empty()) << "segment " << i << " decodes to no picture";
    ASSERT_FALSE(keys.empty());
    EXPECT_NEAR(keys.front(), times.front(), 1e-6) << "segment " << i << " starts at a keyframe";
    if (expected_start >= 0) {
      EXPECT_NEAR(times.front(), expected_start, 0.002) << "a gap or overlap before segment " << i;
    }
    expected_start = times.front() + duration;
  }
  const double mp4_duration = ProbeFile(m.mp4).video->duration_s;
  EXPECT_NEAR(total, mp4_duration, 0.05);
  // The listener heard of every segment, in order, the last one included.
  ASSERT_FALSE(m.announced.empty());
  EXPECT_EQ(m.announced.back(), static_cast<int>(p.segments.size()));
  for (size_t i = 1; i < m.announced.size(); ++i) EXPECT_GE(m.announced[i], m.announced[i - 1]);
}

TEST(HlsOutputTest, SamePicturesAsTheMp4) {
  for (bool passthrough : {false, true}) {
    SCOPED_TRACE(passthrough ? "remuxed" : "encoded");
    Made m =
        TranscodeWithHls(passthrough ? "compliant_720p.mp4" : "landscape_1080p.mp4", passthrough);
    ASSERT_TRUE(m.result.ok()) << m.result.status().ToString();
    EXPECT_EQ(m.result->passthrough, passthrough);
    const std::vector<std::string> mp4 = PictureHashes(m.mp4);
    const std::vector<std::string> hls = PictureHashes(m.dir + "/hls/master.m3u8");
    ASSERT_GT(mp4.size(), 30u);
    EXPECT_EQ(hls, mp4) << "HLS carries the MP4's very packets: the same pictures";
  }
}

TEST(HlsOutputTest, MasterPlaylistDescribesTheStream) {
  Made m = TranscodeWithHls("landscape_1080p.mp4", /*allow_passthrough=*/false);
  ASSERT_TRUE(m.result.ok()) << m.result.status().ToString();
  std::string uri;
  auto attrs = StreamInf(m.dir + "/hls/master.m3u8", &uri);
  EXPECT_EQ(uri, "720p.m3u8");
  EXPECT_EQ(attrs["RESOLUTION"], "1280x720");
  // CODECS from the stream itself: avc1 + profile_idc, constraint flags, level_idc in hex.
  const std::string probe = Shell(
      "ffprobe -v error -select_streams v:0 -show_entries stream=profile,level -of "
      "default=nw=1:nk=1 '" +
      m.mp4 + "'");
  const auto facts = Lines(probe);
  ASSERT_EQ(facts.size(), 2u) << probe;
  EXPECT_EQ(facts[0], "High");
  char level[8];
  std::snprintf(level, sizeof level, "%02x", std::stoi(facts[1]));
  const std::string codecs = attrs["CODECS"];
  EXPECT_EQ(codecs.substr(0, 7), "avc1.64") << codecs;
  EXPECT_EQ(codecs.substr(9, 2), level) << codecs;
  EXPECT_EQ(codecs.substr(11), ",mp4a.40.2") << codecs;
  // Measured from the segments: the peak at least the average, both near the encoder's target
  // (1500 kbit/s video + 128 kbit/s audio; a still test pattern takes less).
  const int64_t peak = std::stoll(attrs["BANDWIDTH"]);
  const int64_t average = std::stoll(attrs["AVERAGE-BANDWIDTH"]);
  EXPECT_GT(average, 100'000);
  EXPECT_GE(peak, average);
  EXPECT_LT(peak, 4'000'000);
}

// An extra rung from the same decode: its own playlist in the master, its pictures scaled down,
// and its segments starting at the same instants as the main rung's (forced keyframes), so a
// player switching rungs lands on the same picture.
TEST(HlsOutputTest, AnExtraRungIsAlignedWithTheMainOne) {
  Made m = TranscodeWithHls("real_720p.mp4", /*allow_passthrough=*/false, {360, 720, 1080});
  ASSERT_TRUE(m.result.ok()) << m.result.status().ToString();
  ASSERT_EQ(m.result->hls_rungs.size(), 2u) << "720 and 1080 are not below the main rung";
  const std::string master = ReadText(m.dir + "/hls/master.m3u8");
  const size_t p720 = master.find("\n720p.m3u8\n"), p360 = master.find("\n360p.m3u8\n");
  ASSERT_NE(p720, std::string::npos) << master;
  ASSERT_NE(p360, std::string::npos) << master;
  EXPECT_LT(p720, p360) << "highest first";
  EXPECT_NE(master.find("RESOLUTION=640x360"), std::string::npos) << master;
  const MediaPlaylist main = ParseMedia(m.dir + "/hls/720p.m3u8");
  const MediaPlaylist low = ParseMedia(m.dir + "/hls/360p.m3u8");
  EXPECT_TRUE(low.ended);
  EXPECT_EQ(low.map, "360p-init.mp4");
  ASSERT_EQ(low.segments.size(), main.segments.size());
  for (size_t i = 0; i < main.segments.size(); ++i) {
    EXPECT_NEAR(low.segments[i].first, main.segments[i].first, 1e-3) << "segment " << i;
    // Forced keyframes: every segment but the last is exactly 4 s, the first 2 s.
    if (i + 1 < main.segments.size()) {
      EXPECT_NEAR(main.segments[i].first, i == 0 ? 2.0 : 4.0, 0.05) << "segment " << i;
    }
    const std::vector<double> a = VideoFrameTimes(Standalone(m, main, i));
    const std::vector<double> b = VideoFrameTimes(Standalone(m, low, i));
    ASSERT_FALSE(a.empty());
    ASSERT_EQ(a.size(), b.size()) << "segment " << i << ": the same pictures in both rungs";
    EXPECT_NEAR(a.front(), b.front(), 1e-3) << "segment " << i;
  }
  const MediaInfo info = ProbeFile(Standalone(m, low, 0));
  ASSERT_TRUE(info.video.has_value());
  EXPECT_EQ(info.video->width, 640);
  EXPECT_EQ(info.video->height, 360);
  // Cheaper than the main rung: about half its bit rate.
  EXPECT_LT(m.result->hls_rungs[1].average_bandwidth, m.result->hls_rungs[0].average_bandwidth);
}

TEST(HlsOutputTest, AFailedTranscodeLeavesNoHlsFile) {
  for (const char* fixture : {"truncated.mp4", "corrupt.mp4"}) {
    SCOPED_TRACE(fixture);
    Made m = TranscodeWithHls(fixture, /*allow_passthrough=*/false);
    ASSERT_FALSE(m.result.ok());
    EXPECT_EQ(ListDir(m.dir + "/hls"), std::vector<std::string>{});
  }
}

TEST(HlsOutputTest, CodecStringsFromParameterSets) {
  AVCodecParameters* par = avcodec_parameters_alloc();
  par->codec_id = AV_CODEC_ID_H264;
  // avcC: version, profile 0x64, constraints 0x00, level 0x1f, ...
  static const uint8_t avcc[] = {1, 0x64, 0x00, 0x1f, 0xff, 0xe1};
  par->extradata = static_cast<uint8_t*>(av_mallocz(sizeof avcc + AV_INPUT_BUFFER_PADDING_SIZE));
  std::memcpy(par->extradata, avcc, sizeof avcc);
  par->extradata_size = sizeof avcc;
  EXPECT_EQ(CodecString(par), "avc1.64001f");
  // Annex B: a start code, then an SPS (NAL type 7): Main (0x4d), constraint 0x40, level 3.0.
  static const uint8_t annexb[] = {0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x1e, 0xab, 0xcd};
  av_free(par->extradata);
  par->extradata = static_cast<uint8_t*>(av_mallocz(sizeof annexb + AV_INPUT_BUFFER_PADDING_SIZE));
  std::memcpy(par->extradata, annexb, sizeof annexb);
  par->extradata_size = sizeof annexb;
  EXPECT_EQ(CodecString(par), "avc1.4d401e");
  par->codec_id = AV_CODEC_ID_AAC;
  par->profile = FF_PROFILE_AAC_LOW;
  EXPECT_EQ(CodecString(par), "mp4a.40.2");
  par->profile = FF_PROFILE_AAC_HE;
  EXPECT_EQ(CodecString(par), "mp4a.40.5");
  avcodec_parameters_free(&par);
}

}  // namespace
}  // namespace vidproc::media
