// Background loops that outlive their failures. A thread of its own (the SSE poller, the webhook
// dispatcher, housekeeping, the access log, a worker slot) must never die of an exception: an
// uncaught one ends the whole process, API and workers with it, and a record that throws every
// time would end it again after each restart. So each iteration runs under a LoopGuard, which
// catches and logs the failure with its context and says how long to back off; and work on one
// record runs under GuardRecord, so that the caller can quarantine the record (mark it failed,
// skip it) instead of retrying it forever.
//
//   LoopGuard guard("webhook dispatcher", {.first_ms = 1000, .max_ms = 60'000});
//   while (!stopping) {
//     guard.Run([&] { return SendDue(); });
//     clock->WaitFor(cv, lock, guard.failures() ? guard.delay_ms() : poll_ms, stopping);
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vidproc {

struct Backoff {
  int64_t first_ms = 1'000;  // after the first failure in a row; doubles with each next one
  int64_t max_ms = 60'000;
};

class LoopGuard {
 public:
  explicit LoopGuard(std::string loop, Backoff backoff = {})
      : loop_(std::move(loop)), backoff_(backoff) {}

  // Runs one iteration. An exception it throws is caught and logged at error; a non-ok Status it
  // returns is logged at warning; both with the loop's name, the failures in a row and `context`.
  // Returns the iteration's status (kInternal for an exception). Never throws.
  Status Run(const std::function<Status()>& iteration, const nlohmann::json& context = nullptr);

  // Iterations that failed in a row (0 after a success).
  int failures() const { return failures_; }
  // The wait before the next iteration after failures() failures in a row: first_ms doubling,
  // capped at max_ms; 0 when the last iteration succeeded.
  int64_t delay_ms() const { return BackoffDelayMs(backoff_, failures_); }

  static int64_t BackoffDelayMs(const Backoff& backoff, int failures);

 private:
  const std::string loop_;
  const Backoff backoff_;
  int failures_ = 0;
};

// Runs `work` on one record (`what`, e.g. "webhook delivery", with `context` naming it). An
// exception is caught, logged at error and returned as kInternal with its text, so that the
// caller can quarantine the record. Never throws.
Status GuardRecord(std::string_view what, const nlohmann::json& context,
                   const std::function<Status()>& work);

}  // namespace vidproc
