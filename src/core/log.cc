#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

#include "core/text.h"

namespace vidproc {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_mutex;

constexpr std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogFormat(LogFormat format) { g_format = format; }
LogLevel GetLogLevel() { return g_level; }

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  if (name == "warn") {
    *level = LogLevel::kWarning;
    return true;
  }
  return false;
}

namespace {

bool IsBareKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string FieldKey(std::string_view key) {
  if (key == "ts" || key == "level" || key == "msg") return "_" + std::string(key);
  std::string out(key);
  for (char& c : out) {
    if (!IsBareKeyChar(c)) c = '_';
  }
  return out.empty() ? "_" : out;
}

void AppendHex(std::string* out, std::string_view prefix, uint32_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append(prefix);
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out->push_back(kHex[(value >> shift) & 0xF]);
}

// True if `text` must be quoted (see FormatLogLine); spaces count unless `spaces_ok`.
bool NeedsQuotes(std::string_view text, bool spaces_ok) {
  if (text.empty()) return !spaces_ok;
  while (!text.empty()) {
    Utf8Step step = DecodeUtf8(text);
    if (!step.valid || IsUnsafeCodePoint(step.code_point)) return true;
    char32_t c = step.code_point;
    if (c == '=' || c == '"' || c == '\\' || (c == ' ' && !spaces_ok)) return true;
    text.remove_prefix(step.length);
  }
  return false;
}

// `text` between double quotes, escaped so that it cannot end early nor hold a line break.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  while (!text.empty()) {
    Utf8Step step = DecodeUtf8(text);
    if (!step.valid) {
      for (size_t i = 0; i < step.length; ++i) {
        AppendHex(&out, "\\x", static_cast<unsigned char>(text[i]), 2);
      }
    } else if (step.code_point == '"' || step.code_point == '\\') {
      out += '\\';
      out += static_cast<char>(step.code_point);
    } else if (step.code_point == '\n') {
      out += "\\n";
    } else if (step.code_point == '\r') {
      out += "\\r";
    } else if (step.code_point == '\t') {
      out += "\\t";
    } else if (step.code_point < 0x20 || step.code_point == 0x7F) {
      AppendHex(&out, "\\x", step.code_point, 2);
    } else if (IsUnsafeCodePoint(step.code_point)) {
      AppendHex(&out, "\\u", step.code_point, 4);
    } else {
      out.append(text.substr(0, step.length));
    }
    text.remove_prefix(step.length);
  }
  out += '"';
  return out;
}

std::string TextValue(std::string_view text, bool spaces_ok) {
  return NeedsQuotes(text, spaces_ok) ? Quoted(text) : std::string(text);
}

}  // namespace

std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view ts,
                          std::string_view message, const nlohmann::json& fields) {
  if (format == LogFormat::kJson) {
    nlohmann::json j = {{"ts", ts}, {"level", LevelName(level)}, {"msg", message}};
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) j[FieldKey(it.key())] = it.value();
    }
    return DumpJson(j);
  }
  std::string line(ts);
  line.append(" ").append(LevelName(level)).append(" ");
  line += TextValue(message, /*spaces_ok=*/true);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      line += " " + FieldKey(it.key()) + "=";
      line += TextValue(
          it.value().is_string() ? it.value().get_ref<const std::string&>() : DumpJson(it.value()),
          /*spaces_ok=*/false);
    }
  }
  return line;
}

LogLevel FailureLogLevel(ErrorCode code) {
  return IsInputError(code) ? LogLevel::kWarning : LogLevel::kError;
}

void Log(LogLevel level, std::string_view message, const nlohmann::json& fields) {
  if (level < g_level.load()) return;
  std::string line = FormatLogLine(g_format.load(), level, Timestamp(), message, fields) + "\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace vidproc
