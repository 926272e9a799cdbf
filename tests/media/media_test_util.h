// Helpers for tests that look at real media: they open files with plain libav (the files here
// are the tests' own fixtures and outputs), decode pictures and sounds, and read MP4 boxes.
#pragma once

#include <string>
#include <vector>

#include "media/av_ptr.h"
#include "media/probe.h"

namespace vidproc::media::testing {

// Path of a fixture made by tests/fixtures/make_fixtures.sh (VIDPROC_FIXTURES).
std::string Fixture(const std::string& name);
// A fresh empty directory for one test.
std::string MakeTempDir();
bool FileExists(const std::string& path);
// Names of the files in `dir`.
std::vector<std::string> ListDir(const std::string& dir);

// What the engine's own probe says of a file (for outputs: mov, always allowlisted).
MediaInfo ProbeFile(const std::string& path);

// The first `max_frames` decoded pictures of the first video stream, as the decoder gives them
// (format, colour properties and side data).
std::vector<FramePtr> DecodeFrames(const std::string& path, int max_frames);
// The first decoded picture at or after `seconds`, converted to yuv420p at its coded size.
FramePtr DecodePictureAt(const std::string& path, double seconds);
// Mean of the luma samples in the rectangle [x0,x1) x [y0,y1), as fractions of the picture.
double MeanLuma(const AVFrame* picture, double x0, double y0, double x1, double y1);

// Top-level MP4 box types in file order ("ftyp", "moov", "mdat", ...).
std::vector<std::string> TopLevelBoxes(const std::string& path);
// Whether any stream of the file carries a display matrix (a rotation tag).
bool HasDisplayMatrix(const std::string& path);
// Codec-level facts of the first video stream, straight from libav.
struct VideoCodecFacts {
  std::string codec;
  int profile = 0;
  std::string pixel_format;
  int sar_num = 0;
  int sar_den = 0;
  std::string field_order;
};
VideoCodecFacts VideoFacts(const std::string& path);
// Presentation times (s) of the video packets (only keyframes if asked), ascending.
std::vector<double> VideoFrameTimes(const std::string& path, bool keyframes_only = false);
// The dominant frequency (Hz) of the first audio stream's first channel, by zero crossings.
double DominantAudioFrequency(const std::string& path);
// Number of streams of each kind.
int CountStreams(const std::string& path, AVMediaType type);
// A container-level metadata value ("title"), empty when absent.
std::string ContainerMetadata(const std::string& path, const std::string& key);

}  // namespace vidproc::media::testing
