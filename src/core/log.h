// One logging path for the whole program: text lines for people, JSON lines (LOG_FORMAT=json)
// for log collectors. Thread-safe; writes to stderr so that stdout stays free for machine output.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace vidproc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
LogLevel GetLogLevel();
bool ParseLogLevel(std::string_view name, LogLevel* level);

// `fields` is an object of structured context (`{"video": id, "code": "timeout"}`).
void Log(LogLevel level, std::string_view message, const nlohmann::json& fields = nullptr);

inline void LogDebug(std::string_view m, const nlohmann::json& f = nullptr) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, const nlohmann::json& f = nullptr) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarning(std::string_view m, const nlohmann::json& f = nullptr) {
  Log(LogLevel::kWarning, m, f);
}
inline void LogError(std::string_view m, const nlohmann::json& f = nullptr) {
  Log(LogLevel::kError, m, f);
}

}  // namespace vidproc
