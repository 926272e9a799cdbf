// Fits the admission model (src/media/cost_model.h) to the measurements of
// bench/cost_model_bench.sh and prints how well it predicts them, as Markdown.
//
//   cost_model_fit --data MEASUREMENTS.jsonl [--model OUT.json] [--speedup S]
//
// --speedup S: the 2-core speed-up (a 2-thread job's CPU / wall with both cores to itself),
// measured on a quiet machine, in place of the pairs' when the bench machine is too loaded for
// them (the report says what the pairs gave).
//
// Each line of the data is one run: the clip's probe (as `vidproc probe` prints it), the
// settings the child ran with, and GNU time's wall, user, system and peak RSS. The runs of one
// setting are reduced to their medians. The terms come from media::ComputeCostTerms and the
// predictions from CostModel::Predict, so the fit and the worker use the same formulas.
//
// The fit, in the order the model needs it:
//  1. the CPU share that a second thread adds (x264 and decoder frame threads redo some work):
//     the median ratio of 2-thread to 1-thread CPU over the settings measured with both;
//  2. CPU coefficients by non-negative least squares on the relative error (each row divided by
//     its measurement, so a 2 s clip counts as much as a 4K one);
//  3. the parallel fraction of Amdahl's law, from the same pairs' CPU / wall;
//  4. memory coefficients, the same way as CPU;
//  5. the remux's own CPU terms and memory, from the passthrough runs.
// Errors are given in-sample and leave-one-out: each setting predicted by a model fitted without
// it, and, stricter, each clip predicted by a model fitted without any of its runs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "media/cost_model.h"
#include "media/probe.h"

namespace vidproc::media {
namespace {

// Encode cost of the presets the bench does not run, relative to veryfast: from the preset
// table in docs/BENCHMARKS.md (60 s 1080p: faster 1.43x, fast 1.64x, medium 1.86x the whole
// job's CPU), with the decoding's share (about a quarter) taken out; slow and slower from x264's
// documented ratios to medium.
const std::map<std::string, double> kUnmeasuredPresets = {
    {"faster", 1.6}, {"fast", 1.9}, {"medium", 2.2}, {"slow", 3.5}, {"slower", 7.0}};

struct Setting {
  std::string phase;  // main, or speedup: the pairs run at nice -10 for the speed-up
  std::string clip;
  int threads = 0;
  std::string preset;
  double max_fps = 0;
  std::string max_size;
  std::string renditions;
  std::string path;  // what the child did: encode or passthrough
  MediaInfo info;
  TranscodeOptions options;
  std::vector<double> cpu, wall, rss_mb;  // one value per run
  double cpu_s = 0, wall_s = 0, memory_mb = 0;
  CostTerms terms;

  std::string key() const {
    return phase + " " + clip + " " + std::to_string(threads) + " " + preset + " " +
           std::to_string(static_cast<int>(max_fps)) + " " + max_size + " " + renditions;
  }
  // The same job but for the thread count: pairs for the thread overhead.
  std::string key_without_threads() const {
    return phase + " " + clip + " " + preset + " " + std::to_string(static_cast<int>(max_fps)) +
           " " + max_size + " " + renditions;
  }
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Least squares on the columns in `use` (normal equations, Gaussian elimination with partial
// pivoting); the other entries of the result are 0.
std::vector<double> LeastSquares(const std::vector<std::vector<double>>& a,
                                 const std::vector<double>& b, const std::vector<bool>& use) {
  const size_t n = use.size();
  std::vector<size_t> cols;
  for (size_t j = 0; j < n; ++j) {
    if (use[j]) cols.push_back(j);
  }
  const size_t k = cols.size();
  std::vector<std::vector<double>> m(k, std::vector<double>(k + 1, 0));
  for (size_t r = 0; r < a.size(); ++r) {
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) m[i][j] += a[r][cols[i]] * a[r][cols[j]];
      m[i][k] += a[r][cols[i]] * b[r];
    }
  }
  for (size_t i = 0; i < k; ++i) m[i][i] += 1e-12;  // a column of zeros stays solvable
  for (size_t c = 0; c < k; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < k; ++r) {
      if (std::abs(m[r][c]) > std::abs(m[pivot][c])) pivot = r;
    }
    std::swap(m[c], m[pivot]);
    for (size_t r = 0; r < k; ++r) {
      if (r == c || m[c][c] == 0) continue;
      double f = m[r][c] / m[c][c];
      for (size_t j = c; j <= k; ++j) m[r][j] -= f * m[c][j];
    }
  }
  std::vector<double> x(n, 0);
  for (size_t i = 0; i < k; ++i) x[cols[i]] = m[i][i] != 0 ? m[i][k] / m[i][i] : 0;
  return x;
}

// Non-negative least squares (Lawson and Hanson): min |Ax - b| with x >= 0. The columns are
// scaled to unit length first, so that a constant and a per-megapixel term weigh alike.
std::vector<double> Nnls(std::vector<std::vector<double>> a, const std::vector<double>& b) {
  const size_t n = a.empty() ? 0 : a[0].size();
  std::vector<double> norm(n, 0);
  for (const auto& row : a) {
    for (size_t j = 0; j < n; ++j) norm[j] += row[j] * row[j];
  }
  for (size_t j = 0; j < n; ++j) norm[j] = norm[j] > 0 ? std::sqrt(norm[j]) : 1;
  for (auto& row : a) {
    for (size_t j = 0; j < n; ++j) row[j] /= norm[j];
  }
  std::vector<double> x(n, 0);
  std::vector<bool> passive(n, false);
  auto gradient = [&] {
    std::vector<double> w(n, 0);
    for (size_t r = 0; r < a.size(); ++r) {
      double residual = b[r];
      for (size_t j = 0; j < n; ++j) residual -= a[r][j] * x[j];
      for (size_t j = 0; j < n; ++j) w[j] += a[r][j] * residual;
    }
    return w;
  };
  const double tol = 1e-10;
  for (int outer = 0; outer < 3 * static_cast<int>(n) + 10; ++outer) {
    std::vector<double> w = gradient();
    int best = -1;
    for (size_t j = 0; j < n; ++j) {
      if (!passive[j] && w[j] > tol && (best < 0 || w[j] > w[best])) best = static_cast<int>(j);
    }
    if (best < 0) break;
    passive[best] = true;
    for (int inner = 0; inner < 3 * static_cast<int>(n) + 10; ++inner) {
      std::vector<double> s = LeastSquares(a, b, passive);
      bool feasible = true;
      for (size_t j = 0; j < n; ++j) {
        if (passive[j] && s[j] <= 0) feasible = false;
      }
      if (feasible) {
        x = s;
        break;
      }
      double alpha = 1;
      for (size_t j = 0; j < n; ++j) {
        if (passive[j] && s[j] <= 0) alpha = std::min(alpha, x[j] / (x[j] - s[j]));
      }
      for (size_t j = 0; j < n; ++j) {
        x[j] += alpha * (s[j] - x[j]);
        if (passive[j] && x[j] <= tol) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  for (size_t j = 0; j < n; ++j) x[j] /= norm[j];
  return x;
}

// Rows divided by their measurement: the fit minimises relative, not absolute, error.
template <size_t N>
std::array<double, N> FitRelative(const std::vector<std::array<double, N>>& terms,
                                  const std::vector<double>& y) {
  std::vector<std::vector<double>> a;
  std::vector<double> b;
  for (size_t r = 0; r < terms.size(); ++r) {
    if (y[r] <= 0) continue;
    a.emplace_back(terms[r].begin(), terms[r].end());
    for (double& v : a.back()) v /= y[r];
    b.push_back(1.0);
  }
  std::array<double, N> out{};
  if (a.empty()) return out;
  std::vector<double> x = Nnls(a, b);
  std::copy(x.begin(), x.end(), out.begin());
  return out;
}

// The thread pairs among `settings`: the same job with 1 and 2 threads, run one after the other.
std::vector<std::pair<const Setting*, const Setting*>> ThreadPairs(
    const std::vector<const Setting*>& settings) {
  std::map<std::string, std::map<int, const Setting*>> by_threads;
  for (const Setting* s : settings) {
    if (s->path == "encode") by_threads[s->key_without_threads()][s->threads] = s;
  }
  std::vector<std::pair<const Setting*, const Setting*>> pairs;
  for (const auto& [key, runs] : by_threads) {
    if (runs.count(1) && runs.count(2)) pairs.emplace_back(runs.at(1), runs.at(2));
  }
  return pairs;
}

// `settings`: the main runs, for everything; `speedup`: the pairs at nice -10, for the parallel
// fraction (the main runs' pairs when there are none).
CostModel Fit(const std::vector<const Setting*>& settings,
              const std::vector<const Setting*>& speedup, double given_speedup) {
  CostModel m;
  m.unmeasured_presets = kUnmeasuredPresets;

  // 1. What a second thread adds to the CPU, and 3. (here, from pairs too) the parallel fraction
  // of Amdahl's law. A pair is one job run with 2 threads and, next to it, with 1: the speed-up
  // is the ratio of their CPU / wall, so load from elsewhere that slows both alike cancels out
  // (on a quiet machine the 1-thread run's CPU / wall is 1).
  std::vector<double> ratios, fractions;
  for (const auto& [one, two] : ThreadPairs(settings)) {
    if (one->cpu_s > 0) ratios.push_back(two->cpu_s / one->cpu_s);
  }
  for (const auto& [one, two] : ThreadPairs(speedup.empty() ? settings : speedup)) {
    if (one->cpu_s <= 0 || one->wall_s <= 0 || two->cpu_s <= 0 || two->wall_s <= 0) continue;
    double gain = (two->cpu_s / two->wall_s) / (one->cpu_s / one->wall_s);
    fractions.push_back(std::clamp(2 * (1 - 1 / gain), 0.0, 1.0));
  }
  m.thread_cpu_overhead = std::max(0.0, Median(ratios) - 1);
  m.parallel_fraction =
      given_speedup > 0 ? std::clamp(2 * (1 - 1 / given_speedup), 0.0, 1.0) : Median(fractions);

  // 2. CPU.
  std::vector<std::array<double, kCpuTermNames.size()>> cpu_terms;
  std::vector<double> cpu_y;
  std::vector<std::array<double, kMemoryTermNames.size()>> mem_terms;
  std::vector<double> mem_y;
  std::vector<std::array<double, kPassthroughCpuTermNames.size()>> pt_terms;
  std::vector<double> pt_y;
  for (const Setting* s : settings) {
    if (s->terms.plan.passthrough) {
      pt_terms.push_back(s->terms.passthrough_cpu);
      pt_y.push_back(s->cpu_s);
      continue;
    }
    auto row = s->terms.cpu;
    if (s->terms.thread_budget > 1) {
      for (double& v : row) v *= 1 + m.thread_cpu_overhead;
    }
    cpu_terms.push_back(row);
    cpu_y.push_back(s->cpu_s);
    mem_terms.push_back(s->terms.memory);
    mem_y.push_back(s->memory_mb);
  }
  m.cpu = FitRelative(cpu_terms, cpu_y);

  // 4. Memory.
  m.memory = FitRelative(mem_terms, mem_y);

  // 5. The remux.
  m.passthrough_cpu = FitRelative(pt_terms, pt_y);
  std::vector<double> pt_memory;
  for (const Setting* s : settings) {
    if (!s->terms.plan.passthrough) continue;
    pt_memory.push_back(s->memory_mb - m.memory[1] * s->terms.memory[1] -
                        m.memory[2] * s->terms.memory[2]);
  }
  m.passthrough_memory_mb = std::max(0.0, Median(pt_memory));
  return m;
}

struct Errors {
  std::vector<double> memory, cpu, wall;  // absolute relative errors, %
};

double ErrorPercent(double predicted, double measured) {
  return measured > 0 ? 100 * std::abs(predicted - measured) / measured : 0;
}

void Add(Errors* e, const CostPrediction& p, const Setting& s) {
  e->memory.push_back(ErrorPercent(p.peak_memory_mb, s.memory_mb));
  e->cpu.push_back(ErrorPercent(p.cpu_s, s.cpu_s));
  e->wall.push_back(ErrorPercent(p.wall_s, s.wall_s));
}

CostPrediction PredictSetting(const CostModel& m, const Setting& s) {
  return m.Predict(s.info, s.options, s.threads);
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Summary(const std::vector<double>& errors) {
  if (errors.empty()) return "n/a";
  return Fmt("%.1f %%", Median(errors)) + " / " +
         Fmt("%.1f %%", *std::max_element(errors.begin(), errors.end()));
}

nlohmann::json SummaryJson(const Errors& e) {
  auto one = [](const std::vector<double>& v) {
    return nlohmann::json{
        {"median_pct", std::round(Median(v) * 10) / 10},
        {"worst_pct",
         v.empty() ? 0.0 : std::round(*std::max_element(v.begin(), v.end()) * 10) / 10}};
  };
  return {{"memory", one(e.memory)}, {"cpu", one(e.cpu)}, {"wall", one(e.wall)}};
}

Size ParseSize(const std::string& text) {
  auto x = text.find('x');
  return {std::stoi(text.substr(0, x)), std::stoi(text.substr(x + 1))};
}

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoi(item));
  }
  return out;
}

int Run(int argc, char** argv) {
  std::string data_path, model_path;
  double given_speedup = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      data_path = argv[++i];
    } else if (a == "--model" && i + 1 < argc) {
      model_path = argv[++i];
    } else if (a == "--speedup" && i + 1 < argc) {
      given_speedup = std::stod(argv[++i]);
    } else {
      std::cerr << "usage: cost_model_fit --data MEASUREMENTS.jsonl [--model OUT.json] "
                   "[--speedup S]\n";
      return 2;
    }
  }
  std::ifstream in(data_path);
  if (!in) {
    std::cerr << "cost_model_fit: cannot read " << data_path << "\n";
    return 1;
  }
  std::map<std::string, Setting> by_key;
  std::vector<std::string> order;
  std::string line;
  int runs = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      std::cerr << "cost_model_fit: a line is not JSON: " << line.substr(0, 80) << "\n";
      return 1;
    }
    Setting s;
    s.phase = j.value("phase", "main");
    s.clip = j.at("clip").get<std::string>();
    s.threads = j.at("threads").get<int>();
    s.preset = j.at("preset").get<std::string>();
    s.max_fps = j.at("max_fps").get<double>();
    s.max_size = j.at("max_size").get<std::string>();
    s.renditions = j.at("renditions").get<std::string>();
    auto [it, added] = by_key.try_emplace(s.key(), s);
    Setting& setting = it->second;
    if (added) {
      order.push_back(s.key());
      auto info = MediaInfoFromJson(j.at("probe"));
      if (!info.ok() || !info->video) {
        std::cerr << "cost_model_fit: bad probe for " << s.clip << "\n";
        return 1;
      }
      setting.info = info.value();
      setting.path = j.value("path", "");
      TranscodeOptions& o = setting.options;
      o.threads = s.threads;
      o.preset = s.preset;
      o.max_frame_rate = s.max_fps;
      o.max_size = ParseSize(s.max_size);
      o.renditions = ParseList(s.renditions);
      o.thumbnail_widths = {160, 320, 640};
      setting.terms = ComputeCostTerms(setting.info, o, kUnmeasuredPresets);
    }
    setting.cpu.push_back(j.at("user_s").get<double>() + j.at("sys_s").get<double>());
    setting.wall.push_back(j.at("wall_s").get<double>());
    setting.rss_mb.push_back(j.at("max_rss_kb").get<double>() * 1024 / 1e6);
    ++runs;
  }
  std::vector<const Setting*> all, speedup;
  std::set<std::string> clips;
  for (const std::string& key : order) {
    Setting& s = by_key.at(key);
    s.cpu_s = Median(s.cpu);
    s.wall_s = Median(s.wall);
    s.memory_mb = Median(s.rss_mb);
    if (s.phase == "speedup") {
      speedup.push_back(&s);
      continue;
    }
    all.push_back(&s);
    clips.insert(s.clip);
    if ((s.path == "passthrough") != s.terms.plan.passthrough) {
      std::cerr << "cost_model_fit: " << key << " ran as " << s.path
                << " but the plan says otherwise\n";
    }
  }
  if (all.empty()) {
    std::cerr << "cost_model_fit: no measurements\n";
    return 1;
  }

  CostModel model = Fit(all, speedup, given_speedup);
  Errors in_sample, leave_setting, leave_clip;
  std::map<const Setting*, CostPrediction> loo;
  for (const Setting* s : all) {
    Add(&in_sample, PredictSetting(model, *s), *s);
    std::vector<const Setting*> rest;
    for (const Setting* o : all) {
      if (o != s) rest.push_back(o);
    }
    loo[s] = PredictSetting(Fit(rest, speedup, given_speedup), *s);
    Add(&leave_setting, loo[s], *s);
  }
  for (const std::string& clip : clips) {
    std::vector<const Setting*> rest;
    for (const Setting* o : all) {
      if (o->clip != clip) rest.push_back(o);
    }
    CostModel without = Fit(rest, speedup, given_speedup);
    for (const Setting* s : all) {
      if (s->clip == clip) Add(&leave_clip, PredictSetting(without, *s), *s);
    }
  }

  std::cout << "## The fitted model\n\n"
            << runs << " runs, " << all.size() << " settings, " << clips.size()
            << " clips; each setting's medians.\n\n"
            << "| coefficient | value |\n| --- | ---: |\n";
  for (size_t i = 0; i < kCpuTermNames.size(); ++i) {
    std::cout << "| cpu." << kCpuTermNames[i] << " | " << Fmt("%.6g", model.cpu[i]) << " |\n";
  }
  for (size_t i = 0; i < kMemoryTermNames.size(); ++i) {
    std::cout << "| memory." << kMemoryTermNames[i] << " | " << Fmt("%.4g", model.memory[i])
              << " |\n";
  }
  for (size_t i = 0; i < kPassthroughCpuTermNames.size(); ++i) {
    std::cout << "| passthrough." << kPassthroughCpuTermNames[i] << " | "
              << Fmt("%.4g", model.passthrough_cpu[i]) << " |\n";
  }
  std::cout << "| passthrough.memory_mb | " << Fmt("%.4g", model.passthrough_memory_mb) << " |\n"
            << "| threads.cpu_overhead | " << Fmt("%.4g", model.thread_cpu_overhead) << " |\n"
            << "| threads.parallel_fraction | " << Fmt("%.4g", model.parallel_fraction)
            << " (speed-up on 2 cores " << Fmt("%.2f", model.Speedup(2)) << "x) |\n\n";

  std::cout << "## Prediction error (absolute, median / worst)\n\n"
            << "| | peak memory | CPU | wall |\n| --- | ---: | ---: | ---: |\n"
            << "| leave one setting out | " << Summary(leave_setting.memory) << " | "
            << Summary(leave_setting.cpu) << " | " << Summary(leave_setting.wall) << " |\n"
            << "| leave one clip out (all its settings) | " << Summary(leave_clip.memory) << " | "
            << Summary(leave_clip.cpu) << " | " << Summary(leave_clip.wall) << " |\n"
            << "| in sample | " << Summary(in_sample.memory) << " | " << Summary(in_sample.cpu)
            << " | " << Summary(in_sample.wall) << " |\n\n";

  // Wall time on a shared machine measures the load as much as the job; the load cancels (to a
  // first order) in the ratio of a job's 1-thread and 2-thread wall times, run one after the
  // other, which is what the model's thread terms predict.
  std::vector<double> measured_ratio, ratio_error;
  auto report_pairs = [&](const std::vector<const Setting*>& runs, const std::string& which) {
    measured_ratio.clear();
    ratio_error.clear();
    for (const auto& [one, two] : ThreadPairs(runs)) {
      double measured = one->wall_s / two->wall_s;
      double predicted = PredictSetting(model, *one).wall_s / PredictSetting(model, *two).wall_s;
      measured_ratio.push_back(measured);
      ratio_error.push_back(ErrorPercent(predicted, measured));
    }
    std::cout << "Wall time of 1 thread over 2 threads, " << which << " (" << measured_ratio.size()
              << " pairs): measured median " << Fmt("%.2f", Median(measured_ratio))
              << "x; the model's error on it, median / worst: " << Summary(ratio_error) << ".\n\n";
  };
  if (given_speedup > 0) {
    CostModel measured = Fit(all, speedup, 0);
    std::cout << "The speed-up on 2 cores is given (--speedup " << Fmt("%.2f", given_speedup)
              << "); the pairs measured here gave " << Fmt("%.2f", measured.Speedup(2)) << "x.\n\n";
  }
  report_pairs(all, "the main runs");
  if (!speedup.empty()) {
    Errors nice;
    for (const Setting* s : speedup) Add(&nice, PredictSetting(model, *s), *s);
    std::cout << "The speed-up runs (at nice -10): wall time error, median / worst: "
              << Summary(nice.wall) << "; CPU: " << Summary(nice.cpu) << ".\n\n";
    report_pairs(speedup, "the speed-up runs at nice -10");
  }

  std::cout << "## Each setting: measured, and predicted leaving that setting out\n\n"
            << "| clip | threads | preset | max fps | max size | rungs | path | memory MB | "
               "predicted | CPU s | predicted | wall s | predicted |\n"
            << "| --- | ---: | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | "
               "---: |\n";
  for (const Setting* s : all) {
    const CostPrediction& p = loo[s];
    std::cout << "| " << s->clip << " | " << s->threads << " | " << s->preset << " | " << s->max_fps
              << " | " << s->max_size << " | " << (s->renditions.empty() ? "-" : s->renditions)
              << " | " << s->path << " | " << Fmt("%.0f", s->memory_mb) << " | "
              << Fmt("%.0f", p.peak_memory_mb) << " | " << Fmt("%.2f", s->cpu_s) << " | "
              << Fmt("%.2f", p.cpu_s) << " | " << Fmt("%.2f", s->wall_s) << " | "
              << Fmt("%.2f", p.wall_s) << " |\n";
  }

  if (!model_path.empty()) {
    model.fit = {
        {"by", "bench/cost_model_bench.sh and bench/cost_model_fit.cc"},
        {"runs", runs},
        {"speedup_2_cores", given_speedup > 0 ? "given (--speedup), measured on a quiet machine"
                                              : "measured (1- and 2-thread pairs)"},
        {"settings", all.size()},
        {"clips", clips.size()},
        {"leave_one_setting_out", SummaryJson(leave_setting)},
        {"leave_one_clip_out", SummaryJson(leave_clip)},
        {"thread_pairs_wall_ratio_median", std::round(Median(measured_ratio) * 100) / 100}};
    // The worker refuses a model it cannot read: check it as Builtin() will.
    auto reread = CostModel::FromJson(model.ToJson());
    if (!reread.ok()) {
      std::cerr << "cost_model_fit: the fitted model does not load: " << reread.status().ToString()
                << "\n";
      return 1;
    }
    std::ofstream out(model_path);
    out << model.ToJson().dump(2) << "\n";
    if (!out) {
      std::cerr << "cost_model_fit: cannot write " << model_path << "\n";
      return 1;
    }
    std::cerr << "cost_model_fit: wrote " << model_path << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace vidproc::media

int main(int argc, char** argv) {
  try {
    return vidproc::media::Run(argc, argv);
  } catch (const std::exception& e) {
    // A measurement line without a field nlohmann can read: name it rather than abort.
    std::cerr << "cost_model_fit: " << e.what() << "\n";
    return 1;
  }
}
