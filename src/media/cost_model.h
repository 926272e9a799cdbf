// What a transcode job will cost before it starts: the transcoder child's peak memory, CPU and
// wall time, predicted from the probe and the options the worker passes the child. The model is
// linear in a few terms computed here from the plan (media/plan.h); its coefficients are
// measured by bench/cost_model_bench.sh, fitted by bench/cost_model_fit.cc, checked in as
// src/media/cost_model.json and embedded in the binary. The fit and the prediction share
// CostTerms below, so there is one set of formulas.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "media/plan.h"
#include "media/probe.h"

namespace vidproc::media {

struct CostPrediction {
  double peak_memory_mb = 0;  // the transcoder child's peak resident memory (MB = 1e6 bytes)
  double cpu_s = 0;           // user + system CPU seconds of the child
  double wall_s = 0;          // the child's wall seconds with `cores_available` cores to itself
};

// The names of the linear model's coefficients, in the order of CostTerms' arrays; they are
// the keys of cost_model.json's "cpu", "memory" and "passthrough" objects.
inline constexpr std::array<std::string_view, 11> kCpuTermNames = {
    "const_s",                      // start-up, opening, thumbnails, the end of the storyboard
    "decode_h264_s_per_mpix",       // per decoded megapixel, H.264
    "decode_other_s_per_mpix",      // per decoded megapixel, HEVC and every other codec
    "high_bit_depth_s_per_mpix",    // extra per decoded megapixel above 8 bits
    "decode_s_per_mbit",            // per megabit of video decoded (entropy decoding)
    "scale_s_per_mpix",             // per input megapixel kept (the scaler reads it)
    "tone_map_s_per_mpix",          // extra per input megapixel kept, HDR sources
    "encode_veryfast_s_per_mpix",   // per encoded megapixel (every rung), veryfast and slower
    "encode_superfast_s_per_mpix",  // per encoded megapixel, superfast
    "encode_ultrafast_s_per_mpix",  // per encoded megapixel, ultrafast
    "audio_s_per_s",                // per second of audio re-encoded
};
inline constexpr std::array<std::string_view, 9> kMemoryTermNames = {
    "const_mb",                            // the process, its libraries, the muxers
    "input_picture",                       // x the bytes of one decoded input picture
    "input_picture_per_extra_thread",      // x those bytes x (decoder threads - 1)
    "output_picture",                      // x the bytes of one encoded picture (all rungs)
    "output_picture_per_extra_thread",     // x those bytes x (x264 threads - 1)
    "output_picture_per_lookahead_frame",  // x those bytes x x264's lookahead of the preset
    "tone_map_input_picture",              // x the input picture's bytes, HDR sources
    // x264 with B-frames (every preset but ultrafast) holds more pictures and tables.
    "output_picture_b_frames",                   // x the encoded picture's bytes
    "output_picture_b_frames_per_extra_thread",  // x those bytes x (x264 threads - 1)
};
inline constexpr std::array<std::string_view, 2> kPassthroughCpuTermNames = {
    "const_s",         // the remux, thumbnails and storyboard start-up
    "decode_s_per_s",  // per second of video: the storyboard and thumbnail decode a share of it
};

// The quantities the model is linear in, for one job.
struct CostTerms {
  Plan plan;
  double duration_s = 0;
  double frames_in = 0;    // pictures decoded
  double frames_kept = 0;  // pictures left after the frame-rate cap: scaled and encoded
  double input_mpix = 0;   // coded megapixels of an input picture
  double input_picture_mb = 0;
  double input_mbit = 0;    // the video stream's size, megabits
  double encoded_mpix = 0;  // megapixels encoded per kept picture, every rung together
  double output_picture_mb = 0;
  int decoder_threads = 1;
  int encoder_threads = 1;
  double thread_budget = 1;            // the threads the job may run at once
  double unmeasured_preset_scale = 1;  // presets slower than veryfast, relative to it
  std::array<double, kCpuTermNames.size()> cpu{};
  std::array<double, kMemoryTermNames.size()> memory{};
  std::array<double, kPassthroughCpuTermNames.size()> passthrough_cpu{};
};

// The x264 lookahead (frames) of a preset: what its memory term multiplies.
int X264Lookahead(const std::string& preset);
// Whether x264 uses B-frames with the preset (all but ultrafast).
bool X264BFrames(const std::string& preset);

// Computes the terms from the probe and the options. `preset_scales`: the encode cost of presets
// slower than veryfast relative to veryfast (the model's "unmeasured_presets").
CostTerms ComputeCostTerms(const MediaInfo& info, const TranscodeOptions& options,
                           const std::map<std::string, double>& preset_scales = {});

class CostModel {
 public:
  // The coefficients checked in as src/media/cost_model.json, embedded in the binary at build
  // time and parsed once.
  static const CostModel& Builtin();
  static Result<CostModel> FromJson(const nlohmann::json& model);

  // `info`: the probe. `options`: what the worker passes the child (threads, preset,
  // max_frame_rate, max_size, renditions, bitrate); the child is modelled as the worker runs it,
  // with a thumbnail, its smaller widths, a storyboard and HLS. `cores_available`: the CPUs this
  // job can actually use (1 when another job shares a 2-core machine), >= 1.
  CostPrediction Predict(const MediaInfo& info, const TranscodeOptions& options,
                         double cores_available) const;

  // The speed-up of `threads` threads over one (Amdahl, with the measured parallel fraction).
  double Speedup(double threads) const;

  // The model as cost_model.json holds it.
  nlohmann::json ToJson() const;

  // The coefficients, by the term names above: public so that the fit can set them.
  std::array<double, kCpuTermNames.size()> cpu{};
  std::array<double, kMemoryTermNames.size()> memory{};
  std::array<double, kPassthroughCpuTermNames.size()> passthrough_cpu{};
  double passthrough_memory_mb = 0;  // a remux's peak, whatever the input
  double thread_cpu_overhead = 0;    // extra CPU share when the job runs more than one thread
  double parallel_fraction = 0;      // of the work, for Speedup
  std::map<std::string, double> unmeasured_presets;  // encode cost relative to veryfast
  nlohmann::json fit;                                // how the coefficients were measured
};

// The bytes of cost_model.json (generated at build time by cmake/embed.cmake).
std::string_view BuiltinCostModelJson();

}  // namespace vidproc::media
