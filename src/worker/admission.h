// Admission before work: from a job's probe, the cost model (media/cost_model.h) predicts its
// peak memory and run time; the job is fitted to its time limit with cheaper settings when it
// would not make it with the configured ones, or refused at once (`would_exceed_timeout`) when
// even the cheapest would not, instead of being stopped by the timeout after minutes of CPU.
// Memory is admitted by the worker's MemoryLedger (memory_budget.h). Pure: JobRunner runs it.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "media/cost_model.h"
#include "media/plan.h"
#include "media/probe.h"

namespace vidproc::worker {

// The share of the time left that a prediction may fill when settings are chosen: the model's
// median error is within 25 % on the benchmark set (docs/BENCHMARKS.md), so a prediction at 80 %
// of the limit still leaves room for most of its misses.
inline constexpr double kTimeShareToFit = 0.8;

// The encoder settings of one job, as the child gets them.
struct JobSettings {
  int threads = 1;
  std::string preset = "veryfast";
  int max_fps = 60;
};

struct Fit {
  JobSettings settings;             // what the child runs with
  media::CostPrediction predicted;  // with those settings
  bool cheaper = false;             // cheaper than configured, to fit the time
  std::string reason;               // why (the log line and the output summary), when cheaper
  Status refusal;                   // would_exceed_timeout: not worth starting
};

// The cores a job can count on: `now`, its share while the jobs running at its start run; `shared`,
// its share with every slot of its worker busy (and the machine's other workers' jobs), the least
// it will have if jobs are claimed while it runs.
struct CoreShare {
  double now = 1;
  double shared = 1;
};

// Chooses the first of the configured settings, then x264 `superfast`, then `ultrafast`, then
// `ultrafast` at most 30 fps (each only where it is cheaper than the configured ones) whose
// predicted wall time with `cores.shared` fits kTimeShareToFit of `seconds_left`: a job started
// alone must still finish when others join it (the timeout would waste all of its CPU). None:
// the cheapest, unless even its prediction with `cores.now` is over `seconds_left` itself (then
// `refusal`; `timeout_s` names the setting in its message). `predicted` is with `cores.now`.
Fit FitToTime(const media::CostModel& model, const media::MediaInfo& info,
              media::TranscodeOptions options, const JobSettings& configured, CoreShare cores,
              double seconds_left, int timeout_s);

// The output summary's `admission` member: what was predicted and chosen.
nlohmann::json AdmissionJson(const Fit& fit);

}  // namespace vidproc::worker
