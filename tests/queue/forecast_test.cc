#include "queue/forecast.h"

#include <gtest/gtest.h>

namespace vidproc::queue {
namespace {

Video Job(const std::string& id, VideoStatus status, std::optional<double> predicted_s) {
  Video v;
  v.id = id;
  v.status = status;
  v.predicted_seconds = predicted_s;
  return v;
}

constexpr int64_t kNow = 1'000'000;

TEST(ForecastQueueTest, TwoSlotsTakeTheQueueInOrderAsTheyFreeUp) {
  Video running = Job("r", VideoStatus::kProcessing, 100.0);
  running.progress = 0.5;  // 50 s left
  std::vector<Video> queue = {running, Job("a", VideoStatus::kQueued, 30.0),
                              Job("b", VideoStatus::kQueued, 40.0),
                              Job("c", VideoStatus::kQueued, 10.0)};
  auto places = ForecastQueue(queue, 2, kNow);
  ASSERT_EQ(places.size(), 3u) << "only queued videos have a place";
  EXPECT_EQ(places["a"].position, 1);
  EXPECT_EQ(places["a"].predicted_start_ms, kNow) << "the free slot takes it at once";
  EXPECT_EQ(places["b"].position, 2);
  EXPECT_EQ(places["b"].predicted_start_ms, kNow + 30'000) << "after a, before r ends";
  EXPECT_EQ(places["c"].position, 3);
  EXPECT_EQ(places["c"].predicted_start_ms, kNow + 50'000) << "r ends before b";
}

TEST(ForecastQueueTest, ARunningJobsOwnEtaWinsOverItsPrediction) {
  Video running = Job("r", VideoStatus::kProcessing, 100.0);
  running.eta_seconds = 7;
  auto places = ForecastQueue({running, Job("a", VideoStatus::kQueued, 30.0)}, 1, kNow);
  EXPECT_EQ(places["a"].predicted_start_ms, kNow + 7'000);
}

TEST(ForecastQueueTest, JobsNotProbedCountAsTheMedianOfThoseThatWere) {
  std::vector<Video> queue = {
      Job("a", VideoStatus::kQueued, 20.0), Job("b", VideoStatus::kQueued, std::nullopt),
      Job("c", VideoStatus::kQueued, 80.0), Job("d", VideoStatus::kQueued, 50.0),
      Job("e", VideoStatus::kQueued, std::nullopt)};
  auto places = ForecastQueue(queue, 1, kNow);
  // a 20 s, b the median of 20, 50, 80 (50 s), c 80 s, d 50 s.
  EXPECT_EQ(places["e"].predicted_start_ms, kNow + (20 + 50 + 80 + 50) * 1000);
  auto unknown = ForecastQueue(
      {Job("x", VideoStatus::kQueued, std::nullopt), Job("y", VideoStatus::kQueued, std::nullopt)},
      1, kNow);
  EXPECT_EQ(unknown["y"].predicted_start_ms,
            kNow + static_cast<int64_t>(kTypicalJobSeconds * 1000));
}

TEST(ForecastQueueTest, WithoutALiveWorkerThereIsAPlaceButNoStart) {
  auto places = ForecastQueue(
      {Job("a", VideoStatus::kQueued, 30.0), Job("b", VideoStatus::kQueued, 30.0)}, 0, kNow);
  EXPECT_EQ(places["b"].position, 2);
  EXPECT_FALSE(places["b"].predicted_start_ms.has_value());
}

}  // namespace
}  // namespace vidproc::queue
