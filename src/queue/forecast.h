// Where a queued job stands: its place in the queue and when it is predicted to start, from the
// queue as a claim would take it (VideoQueue::ListQueue) and the workers' slots. A prediction,
// shown to the platform's users as an ETA: it assumes the slots free up as the running and
// earlier jobs' predicted times say, and that every slot takes the next job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "queue/video_queue.h"

namespace vidproc::queue {

struct QueuePlace {
  int position = 0;                           // 1: the next job to be claimed
  std::optional<int64_t> predicted_start_ms;  // none without a live worker
};

// A job no worker has probed yet counts as the median of the predictions known, or this.
inline constexpr double kTypicalJobSeconds = 60.0;

// Places of the queued videos in `queue` (ListQueue's order: running jobs, then the queued ones
// in claim order). `slots`: how many jobs the live workers run at once (0: none is alive, no
// start is predicted). A running job frees its slot after its own ETA (eta_seconds), else what
// is left of its predicted time, else the typical time.
std::map<std::string, QueuePlace> ForecastQueue(const std::vector<Video>& queue, int slots,
                                                int64_t now_ms);

}  // namespace vidproc::queue
