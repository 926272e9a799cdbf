// ManualClock: time moves only by Advance, and sleepers and waiters wake when it passes their
// deadline (or when their condition comes true), never before.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/deadline.h"

namespace vidproc {
namespace {

// Spins (yielding) until `done`, for up to ~10 s of real time: the threads under test react to
// events, so this only bounds a failure.
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 100'000 && !done(); ++i) std::this_thread::yield();
  for (int i = 0; i < 1'000 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(ManualClockTest, AdvanceMovesWallAndMonotonicTime) {
  ManualClock clock(1'000);
  int64_t mono = clock.MonotonicMs();
  clock.Advance(250);
  EXPECT_EQ(clock.NowMs(), 1'250);
  EXPECT_EQ(clock.MonotonicMs(), mono + 250);
}

TEST(ManualClockTest, ASleeperWakesOnlyWhenItsTimeHasPassed) {
  ManualClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepForMs(1'000);
    woke = true;
  });
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  clock.Advance(999);
  // Woken to look at the time, it goes back to sleep: still registered, not done.
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  EXPECT_FALSE(woke.load());
  clock.Advance(1);
  EXPECT_TRUE(Eventually([&] { return woke.load(); }));
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(ManualClockTest, WaitForEndsWhenTheConditionIsMetOrTheTimeIsUp) {
  ManualClock clock;
  std::mutex mutex;
  std::condition_variable cv;
  bool ready = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    std::unique_lock lock(mutex);
    result = clock.WaitFor(cv, lock, 60'000, [&] { return ready; });
  });
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  {
    std::lock_guard lock(mutex);
    ready = true;
  }
  cv.notify_all();
  ASSERT_TRUE(Eventually([&] { return result.load() != -1; }));
  EXPECT_EQ(result.load(), 1) << "woken by the condition, with no time passing";
  waiter.join();

  ready = false;
  result = -1;
  std::thread timed_out([&] {
    std::unique_lock lock(mutex);
    result = clock.WaitFor(cv, lock, 60'000, [&] { return ready; });
  });
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  clock.Advance(60'000);
  ASSERT_TRUE(Eventually([&] { return result.load() != -1; }));
  EXPECT_EQ(result.load(), 0) << "the time ran out with the condition still false";
  timed_out.join();
}

TEST(DeadlineTest, RunsOutOnTheClocksMonotonicTime) {
  ManualClock clock;
  Deadline deadline(&clock, 10'000);
  EXPECT_FALSE(deadline.Expired());
  EXPECT_EQ(deadline.RemainingMs(), 10'000);
  clock.Advance(9'999);
  EXPECT_FALSE(deadline.Expired());
  EXPECT_EQ(deadline.RemainingMs(), 1);
  clock.Advance(1);
  EXPECT_TRUE(deadline.Expired());
  clock.Advance(5'000);
  EXPECT_EQ(deadline.RemainingMs(), 0) << "never negative";
  EXPECT_EQ(deadline.ElapsedMs(), 15'000);
}

TEST(SystemClockTest, WaitForTimesOutOnRealTime) {
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_lock lock(mutex);
  const Clock* clock = SystemClock::Default();
  int64_t before = clock->MonotonicMs();
  EXPECT_FALSE(clock->WaitFor(cv, lock, 20, [] { return false; }));
  EXPECT_GE(clock->MonotonicMs() - before, 20);
}

}  // namespace
}  // namespace vidproc
