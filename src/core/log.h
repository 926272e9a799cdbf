// One logging path for the whole program: text lines for people, JSON lines (LOG_FORMAT=json)
// for log collectors. Thread-safe; writes to stderr so that stdout stays free for machine output.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vidproc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
LogLevel GetLogLevel();
bool ParseLogLevel(std::string_view name, LogLevel* level);

// `fields` is an object of structured context (`{"video": id, "code": "timeout"}`).
void Log(LogLevel level, std::string_view message, const nlohmann::json& fields = nullptr);

// One log line as Log writes it (without the newline), `ts` being its timestamp.
//   text: `<ts> <level> <message> key=value key="a value"`, logfmt style. A value is quoted
//     when it is empty or holds a space, '=', '"', '\\', a control or bidi character or bytes
//     that are not UTF-8 (the message too, except for spaces); inside quotes '"' and '\\' are
//     escaped, \n \r \t are written so, other control characters and bad bytes as \xNN, C1, bidi
//     and line separator characters as \uNNNN. No value can end its field early or start a line, so
//     a file name like `x.mp4 video=AAAA level=error` stays one value. Keys are kept to
//     [A-Za-z0-9_.-] (anything else becomes '_').
//   json: one object; invalid UTF-8 is replaced by U+FFFD.
// In both, a field named ts, level or msg is written as _ts, _level, _msg.
std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view ts,
                          std::string_view message, const nlohmann::json& fields);

// The level for a failure with `code`: warning when the user's file caused it (IsInputError:
// a refused upload is not the operator's problem), error for the service's own failures.
LogLevel FailureLogLevel(ErrorCode code);

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
