// A background loop under a LoopGuard survives iterations that throw or fail, backs off on the
// Clock seam (a ManualClock here: no real sleeps), and returns to its pace after a success.
#include "core/loop_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace vidproc {
namespace {

TEST(LoopGuardTest, BackoffDoublesFromTheFirstDelayUpToTheCap) {
  Backoff b{.first_ms = 100, .max_ms = 1'000};
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 0), 0);
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 1), 100);
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 2), 200);
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 4), 800);
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 5), 1'000);
  EXPECT_EQ(LoopGuard::BackoffDelayMs(b, 1'000'000), 1'000);
}

TEST(LoopGuardTest, ExceptionsAndErrorsAreCaughtAndCounted) {
  LoopGuard guard("test loop", {.first_ms = 10, .max_ms = 100});
  Status s = guard.Run([]() -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  EXPECT_EQ(s.message(), "boom");
  EXPECT_EQ(guard.failures(), 1);
  s = guard.Run([]() -> Status { throw 42; });  // not even a std::exception
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  EXPECT_EQ(guard.failures(), 2);
  s = guard.Run([] { return Status(ErrorCode::kDatabaseError, "database is locked"); });
  EXPECT_EQ(s.code(), ErrorCode::kDatabaseError);
  EXPECT_EQ(guard.failures(), 3);
  EXPECT_EQ(guard.delay_ms(), 40);
  EXPECT_TRUE(guard.Run([] { return Status::Ok(); }).ok());
  EXPECT_EQ(guard.failures(), 0);
  EXPECT_EQ(guard.delay_ms(), 0);
}

TEST(LoopGuardTest, ALoopWhoseIterationsThrowKeepsGoingWithBackoff) {
  ManualClock clock;
  std::atomic<int> iterations{0};
  std::atomic<int> sleeps{0};
  std::vector<int64_t> waits;  // written by the loop thread, read after join
  std::thread loop([&] {
    LoopGuard guard("throwing loop", {.first_ms = 1'000, .max_ms = 4'000});
    while (iterations < 8) {
      int n = ++iterations;
      (void)guard.Run([n]() -> Status {
        if (n <= 4) throw std::runtime_error("iteration " + std::to_string(n) + " throws");
        if (n == 5) return Status(ErrorCode::kStorageUnavailable, "still down");
        return Status::Ok();
      });
      int64_t wait = guard.failures() > 0 ? guard.delay_ms() : 10;
      waits.push_back(wait);
      ++sleeps;
      clock.SleepForMs(wait);
    }
  });
  // Advance only while the loop sleeps, by exactly the time it waits for.
  const int64_t expected[] = {1'000, 2'000, 4'000, 4'000, 4'000, 10, 10, 10};
  int sleep = 0;
  for (int64_t step : expected) {
    ++sleep;
    while (sleeps < sleep || clock.waiters() == 0) std::this_thread::yield();
    clock.Advance(step);
  }
  loop.join();
  EXPECT_EQ(iterations, 8);
  EXPECT_EQ(waits, std::vector<int64_t>(std::begin(expected), std::end(expected)));
}

TEST(LoopGuardTest, GuardRecordTurnsAnExceptionIntoAReasonForQuarantine) {
  Status s = GuardRecord("webhook delivery", {{"delivery", 7}},
                         []() -> Status { throw std::out_of_range("bad record"); });
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  EXPECT_EQ(s.message(), "bad record");
  EXPECT_TRUE(GuardRecord("x", nullptr, [] { return Status::Ok(); }).ok());
  Status plain = GuardRecord("x", nullptr, [] { return Status(ErrorCode::kNotFound, "gone"); });
  EXPECT_EQ(plain.code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace vidproc
