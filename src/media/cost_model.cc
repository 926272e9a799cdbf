#include "media/cost_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace vidproc::media {
namespace {

constexpr double kDefaultFrameRate = 30.0;  // what MakePlan assumes when the probe has none

double BytesPerSample(int bit_depth) { return bit_depth > 8 ? 2.0 : 1.0; }

// Megabytes (1e6 bytes) of one 4:2:0 picture.
double PictureMb(double mpix, int bit_depth) { return mpix * 1.5 * BytesPerSample(bit_depth); }

// The short side of each HLS rung below the main one (TranscodeOptions::renditions) as the
// picture it encodes: the main picture scaled down to that short side, never up.
double RenditionMpix(const Plan& plan, int short_side) {
  int main_short = std::min(plan.width, plan.height);
  if (main_short <= 0 || short_side >= main_short) return 0;
  double scale = static_cast<double>(short_side) / main_short;
  return plan.width * scale * plan.height * scale / 1e6;
}

bool IsMeasuredPreset(const std::string& preset) {
  return preset == "veryfast" || preset == "superfast" || preset == "ultrafast";
}

Result<double> Coefficient(const nlohmann::json& object, std::string_view section,
                           std::string_view name) {
  const std::string where = std::string(section) + "." + std::string(name);
  auto it = object.find(std::string(name));
  if (it == object.end()) {
    return Status(ErrorCode::kInvalidArgument, "cost model: " + where + " is missing");
  }
  if (!it->is_number()) {
    return Status(ErrorCode::kInvalidArgument, "cost model: " + where + " is not a number");
  }
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "cost model: " + where + " must be a finite number >= 0");
  }
  return v;
}

// The object `section` of `model`.
Result<const nlohmann::json*> Object(const nlohmann::json& model, std::string_view section) {
  auto it = model.find(std::string(section));
  if (it == model.end() || !it->is_object()) {
    return Status(ErrorCode::kInvalidArgument,
                  "cost model: " + std::string(section) + " is missing or not an object");
  }
  return &*it;
}

template <size_t N>
Status ReadCoefficients(const nlohmann::json& object, std::string_view section,
                        const std::array<std::string_view, N>& names, std::array<double, N>* out) {
  for (size_t i = 0; i < N; ++i) {
    ASSIGN_OR_RETURN((*out)[i], Coefficient(object, section, names[i]));
  }
  return Status::Ok();
}

template <size_t N>
nlohmann::json Section(const std::array<std::string_view, N>& names,
                       const std::array<double, N>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < N; ++i) j[std::string(names[i])] = values[i];
  return j;
}

template <size_t N>
double Dot(const std::array<double, N>& a, const std::array<double, N>& b) {
  double sum = 0;
  for (size_t i = 0; i < N; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

int X264Lookahead(const std::string& preset) {
  // x264's rc-lookahead by preset (x264 --fullhelp): superfast and ultrafast turn it off, and
  // with it mbtree; the slower presets keep more pictures in flight.
  if (preset == "ultrafast" || preset == "superfast") return 0;
  if (preset == "veryfast") return 10;
  if (preset == "faster") return 20;
  if (preset == "fast") return 30;
  if (preset == "medium") return 40;
  return 60;  // slow and slower
}

bool X264BFrames(const std::string& preset) { return preset != "ultrafast"; }

CostTerms ComputeCostTerms(const MediaInfo& info, const TranscodeOptions& options,
                           const std::map<std::string, double>& preset_scales) {
  CostTerms t;
  t.plan = MakePlan(info, options);
  const VideoStreamInfo& v = *info.video;
  t.duration_s = v.duration_s > 0 ? v.duration_s : std::max(0.0, info.duration_s);
  const double rate = v.frame_rate > 0 ? v.frame_rate : kDefaultFrameRate;
  t.frames_in = t.duration_s * rate;
  t.input_mpix = static_cast<double>(v.width) * v.height / 1e6;
  t.input_picture_mb = PictureMb(t.input_mpix, v.bit_depth);
  // The container's overall rate when the stream's own is unknown (audio is small next to it).
  const double bit_rate = v.bit_rate > 0      ? v.bit_rate
                          : info.bit_rate > 0 ? info.bit_rate
                          : t.duration_s > 0  ? info.size_bytes * 8.0 / t.duration_s
                                              : 0;
  t.input_mbit = bit_rate * t.duration_s / 1e6;
  t.decoder_threads = t.plan.decoder_threads;
  t.encoder_threads = t.plan.encoder_threads;
  t.thread_budget = std::max(t.plan.decoder_threads, t.plan.encoder_threads);

  const double hdr = t.plan.tone_map ? 1.0 : 0.0;
  t.memory[0] = 1;
  t.memory[1] = t.input_picture_mb;
  t.memory[2] = t.input_picture_mb * (t.decoder_threads - 1);

  // A remux decodes only what the thumbnail and the storyboard need; its terms stand apart.
  const double decoded_mpix = t.frames_in * t.input_mpix;
  t.passthrough_cpu = {1, t.duration_s};
  if (t.plan.passthrough) {
    t.frames_kept = 0;
    return t;
  }

  t.frames_kept = t.plan.cap_frame_rate ? t.duration_s * t.plan.output_frame_rate : t.frames_in;
  t.encoded_mpix = t.plan.width * static_cast<double>(t.plan.height) / 1e6;
  for (int rung : options.renditions) t.encoded_mpix += RenditionMpix(t.plan, rung);
  t.output_picture_mb = PictureMb(t.encoded_mpix, 8);

  const double kept_input_mpix = t.frames_kept * t.input_mpix;
  const double encoded = t.frames_kept * t.encoded_mpix;
  const bool h264 = v.codec == "h264";
  if (!IsMeasuredPreset(options.preset)) {
    auto it = preset_scales.find(options.preset);
    // An unknown preset name: x264 refuses it, but cost it as the slowest listed rather than 0.
    double slowest = 1;
    for (const auto& [name, scale] : preset_scales) slowest = std::max(slowest, scale);
    t.unmeasured_preset_scale = it != preset_scales.end() ? it->second : slowest;
  }
  t.cpu = {1,
           h264 ? decoded_mpix : 0,
           h264 ? 0 : decoded_mpix,
           v.bit_depth > 8 ? decoded_mpix : 0,
           t.input_mbit,
           kept_input_mpix,
           hdr * kept_input_mpix,
           options.preset == "superfast" || options.preset == "ultrafast"
               ? 0
               : encoded * t.unmeasured_preset_scale,
           options.preset == "superfast" ? encoded : 0,
           options.preset == "ultrafast" ? encoded : 0,
           t.plan.has_audio ? t.duration_s : 0};

  t.memory[3] = t.output_picture_mb;
  t.memory[4] = t.output_picture_mb * (t.encoder_threads - 1);
  t.memory[5] = t.output_picture_mb * X264Lookahead(options.preset);
  t.memory[6] = hdr * t.input_picture_mb;
  const double b_frames = X264BFrames(options.preset) ? 1.0 : 0.0;
  t.memory[7] = b_frames * t.output_picture_mb;
  t.memory[8] = b_frames * t.output_picture_mb * (t.encoder_threads - 1);
  return t;
}

const CostModel& CostModel::Builtin() {
  static const CostModel* model = [] {
    auto parsed = nlohmann::json::parse(BuiltinCostModelJson(), nullptr, false);
    auto made = FromJson(parsed);
    // The file is checked in and the tests load it: a broken one is a build defect.
    if (!made.ok()) {
      std::fprintf(stderr, "the built-in cost model does not load: %s\n",
                   made.status().ToString().c_str());
      std::abort();
    }
    return new CostModel(std::move(made).value());
  }();
  return *model;
}

Result<CostModel> CostModel::FromJson(const nlohmann::json& model) {
  if (!model.is_object()) {
    return Status(ErrorCode::kInvalidArgument, "cost model: not a JSON object");
  }
  CostModel m;
  ASSIGN_OR_RETURN(const nlohmann::json* cpu, Object(model, "cpu"));
  RETURN_IF_ERROR(ReadCoefficients(*cpu, "cpu", kCpuTermNames, &m.cpu));
  ASSIGN_OR_RETURN(const nlohmann::json* memory, Object(model, "memory"));
  RETURN_IF_ERROR(ReadCoefficients(*memory, "memory", kMemoryTermNames, &m.memory));
  ASSIGN_OR_RETURN(const nlohmann::json* pt, Object(model, "passthrough"));
  RETURN_IF_ERROR(
      ReadCoefficients(*pt, "passthrough", kPassthroughCpuTermNames, &m.passthrough_cpu));
  ASSIGN_OR_RETURN(m.passthrough_memory_mb, Coefficient(*pt, "passthrough", "memory_mb"));
  ASSIGN_OR_RETURN(const nlohmann::json* threads, Object(model, "threads"));
  ASSIGN_OR_RETURN(m.thread_cpu_overhead, Coefficient(*threads, "threads", "cpu_overhead"));
  ASSIGN_OR_RETURN(m.parallel_fraction, Coefficient(*threads, "threads", "parallel_fraction"));
  if (m.parallel_fraction > 1) {
    return Status(ErrorCode::kInvalidArgument, "cost model: threads.parallel_fraction is above 1");
  }
  auto presets = model.find("unmeasured_presets");
  if (presets != model.end()) {
    if (!presets->is_object()) {
      return Status(ErrorCode::kInvalidArgument, "cost model: unmeasured_presets is not an object");
    }
    for (const auto& [name, value] : presets->items()) {
      ASSIGN_OR_RETURN(double scale, Coefficient(*presets, "unmeasured_presets", name));
      m.unmeasured_presets[name] = scale;
    }
  }
  if (auto fit = model.find("fit"); fit != model.end()) m.fit = *fit;
  // A model that predicts nothing for a re-encode would admit everything.
  if (m.cpu[0] <= 0 || m.memory[0] <= 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "cost model: cpu.const_s and memory.const_mb must be above 0");
  }
  return m;
}

nlohmann::json CostModel::ToJson() const {
  nlohmann::json pt = Section(kPassthroughCpuTermNames, passthrough_cpu);
  pt["memory_mb"] = passthrough_memory_mb;
  nlohmann::json j = {
      {"cpu", Section(kCpuTermNames, cpu)},
      {"memory", Section(kMemoryTermNames, memory)},
      {"passthrough", pt},
      {"threads",
       {{"cpu_overhead", thread_cpu_overhead}, {"parallel_fraction", parallel_fraction}}},
      {"unmeasured_presets", unmeasured_presets},
  };
  if (!fit.is_null()) j["fit"] = fit;
  return j;
}

double CostModel::Speedup(double threads) const {
  double t = std::max(1.0, threads);
  return 1.0 / ((1.0 - parallel_fraction) + parallel_fraction / t);
}

CostPrediction CostModel::Predict(const MediaInfo& info, const TranscodeOptions& options,
                                  double cores_available) const {
  CostPrediction p;
  if (!info.video) return p;  // the child refuses such a file at once
  CostTerms t = ComputeCostTerms(info, options, unmeasured_presets);
  double overhead = t.thread_budget > 1 ? 1 + thread_cpu_overhead : 1;
  p.peak_memory_mb = Dot(memory, t.memory);
  if (t.plan.passthrough) {
    p.cpu_s = Dot(passthrough_cpu, t.passthrough_cpu);
    // The remux holds no encoder; the decoder terms stand for the thumbnail's and storyboard's.
    p.peak_memory_mb = passthrough_memory_mb + memory[1] * t.memory[1] + memory[2] * t.memory[2];
  } else {
    p.cpu_s = Dot(cpu, t.cpu) * overhead;
  }
  double usable = std::min(t.thread_budget, std::max(1.0, cores_available));
  p.wall_s = p.cpu_s / Speedup(usable);
  return p;
}

}  // namespace vidproc::media
