#include "core/loop_guard.h"

#include <algorithm>
#include <exception>

#include "core/log.h"

namespace vidproc {
namespace {

// What an exception says, for the log and for a quarantined record's reason.
std::string Describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

// Runs `work`; an exception becomes kInternal with its text in *thrown.
Status Catching(const std::function<Status()>& work, bool* thrown) {
  *thrown = false;
  try {
    return work();
  } catch (...) {
    *thrown = true;
    return Status(ErrorCode::kInternal, Describe(std::current_exception()));
  }
}

nlohmann::json WithContext(const nlohmann::json& context) {
  return context.is_object() ? context : nlohmann::json::object();
}

}  // namespace

int64_t LoopGuard::BackoffDelayMs(const Backoff& backoff, int failures) {
  if (failures <= 0) return 0;
  int64_t delay = std::max<int64_t>(backoff.first_ms, 0);
  for (int i = 1; i < failures && delay < backoff.max_ms; ++i) delay *= 2;
  return std::min(delay, backoff.max_ms);
}

Status LoopGuard::Run(const std::function<Status()>& iteration, const nlohmann::json& context) {
  bool thrown = false;
  Status s = Catching(iteration, &thrown);
  if (s.ok()) {
    if (failures_ > 0) LogInfo("background loop recovered", {{"loop", loop_}});
    failures_ = 0;
    return s;
  }
  ++failures_;
  try {
    nlohmann::json fields = WithContext(context);
    fields["loop"] = loop_;
    fields["failures_in_a_row"] = failures_;
    fields["retry_in_ms"] = delay_ms();
    if (thrown) {
      fields["error"] = s.message();
      LogError("background loop iteration failed", fields);
    } else {
      fields["code"] = s.code_name();
      fields["reason"] = s.message();
      LogWarning("background loop iteration failed", fields);
    }
  } catch (...) {
    // Out of memory while logging: the loop still goes on.
  }
  return s;
}

Status GuardRecord(std::string_view what, const nlohmann::json& context,
                   const std::function<Status()>& work) {
  bool thrown = false;
  Status s = Catching(work, &thrown);
  if (thrown) {
    try {
      nlohmann::json fields = WithContext(context);
      fields["record"] = what;
      fields["error"] = s.message();
      LogError("a record could not be processed", fields);
    } catch (...) {
    }
  }
  return s;
}

}  // namespace vidproc
