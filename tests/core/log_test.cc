// Log lines an operator can trust: the text format read back by a small logfmt reader written
// here (quoted values with backslash escapes, as logfmt tools read them) has exactly the fields
// that were logged, whatever bytes a value holds; the JSON format parses and keeps its own keys.
#include "core/log.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace vidproc {
namespace {

constexpr char kTs[] = "2026-01-01T00:00:00.000Z";

struct Parsed {
  std::string ts, level, message;
  std::multimap<std::string, std::string> fields;
  bool ok = true;
};

// Reads `<ts> <level> <message> k=v k="v"...`: the message ends where the first key= begins
// (a word followed by '=' outside quotes).
Parsed ReadTextLine(const std::string& line) {
  Parsed p;
  size_t i = 0;
  auto word = [&] {
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    std::string w = line.substr(start, i - start);
    if (i < line.size()) ++i;
    return w;
  };
  auto quoted = [&](std::string* out) {
    ++i;  // opening quote
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\' && i + 1 < line.size()) {
        char e = line[i + 1];
        if (e == 'n') {
          *out += '\n';
        } else if (e == 'r') {
          *out += '\r';
        } else if (e == 't') {
          *out += '\t';
        } else if (e == 'x' || e == 'u') {
          size_t digits = e == 'x' ? 2 : 4;
          *out += "<" + line.substr(i + 2, digits) + ">";
          i += digits;
        } else {
          *out += e;
        }
        i += 2;
      } else {
        *out += line[i++];
      }
    }
    if (i >= line.size()) p.ok = false;  // unterminated
    ++i;                                 // closing quote
  };
  p.ts = word();
  p.level = word();
  if (i < line.size() && line[i] == '"') {
    quoted(&p.message);
    if (i < line.size() && line[i] == ' ') ++i;
  } else {
    // Up to the first " key=" (a key is [A-Za-z0-9_.-]+ then '=').
    size_t end = line.size();
    for (size_t at = line.find('=', i); at != std::string::npos; at = line.find('=', at + 1)) {
      size_t space = line.rfind(' ', at);
      if (space != std::string::npos && space >= i) {
        end = space;
        break;
      }
    }
    p.message = line.substr(i, end - i);
    i = end == line.size() ? end : end + 1;
  }
  while (i < line.size()) {
    size_t eq = line.find('=', i);
    if (eq == std::string::npos) {
      p.ok = false;
      break;
    }
    std::string key = line.substr(i, eq - i);
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      quoted(&value);
    } else {
      while (i < line.size() && line[i] != ' ') value += line[i++];
    }
    if (i < line.size()) {
      if (line[i] != ' ') p.ok = false;
      ++i;
    }
    p.fields.emplace(key, value);
  }
  return p;
}

TEST(LogTest, AFileNameThatLooksLikeFieldsStaysOneValue) {
  const std::string name = "x.mp4 video=AAAA level=error";
  std::string line = FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "queued",
                                   {{"video", "abc123"}, {"filename", name}, {"bytes", 42}});
  EXPECT_EQ(line,
            std::string(kTs) +
                R"( info queued bytes=42 filename="x.mp4 video=AAAA level=error" video=abc123)");
  Parsed p = ReadTextLine(line);
  ASSERT_TRUE(p.ok) << line;
  EXPECT_EQ(p.level, "info");
  EXPECT_EQ(p.message, "queued");
  EXPECT_EQ(p.fields.size(), 3u);
  EXPECT_EQ(p.fields.count("level"), 0u);
  EXPECT_EQ(p.fields.find("filename")->second, name);
  EXPECT_EQ(p.fields.find("video")->second, "abc123");
}

TEST(LogTest, HostileValuesNeitherEndTheirFieldNorTheLine) {
  const std::string hostile[] = {
      "",
      "a b",
      "a=b",
      "say \"hi\"",
      "back\\slash",
      "line\nbreak 2026-01-01T00:00:00.000Z error forged=1",
      "cr\rlf",
      "tab\there",
      std::string("nul\0byte", 8),
      "\x1b[31mred",
      "del\x7f",
      "bad\xff\xfe utf8 \xC0\xAF",
      "bidi \xE2\x80\xAE"
      "fdp.exe",
      "c1 \xC2\x85 next line",
      "ls \xE2\x80\xA8 separator",
      "\" forged=\"1",
      "trailing\\",
  };
  for (const std::string& value : hostile) {
    std::string line =
        FormatLogLine(LogFormat::kText, LogLevel::kWarning, kTs, "upload", {{"filename", value}});
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    EXPECT_EQ(line.find(std::string(1, '\0')), std::string::npos) << line;
    EXPECT_EQ(line.find("\xE2\x80\xAE"), std::string::npos) << line;
    EXPECT_EQ(line.find("\xE2\x80\xA8"), std::string::npos) << line;
    EXPECT_EQ(line.find("\xC2\x85"), std::string::npos) << line;
    EXPECT_EQ(line.find('\xff'), std::string::npos) << line;
    Parsed p = ReadTextLine(line);
    ASSERT_TRUE(p.ok) << line;
    EXPECT_EQ(p.message, "upload") << line;
    ASSERT_EQ(p.fields.size(), 1u) << line;
    EXPECT_EQ(p.fields.begin()->first, "filename") << line;
  }
}

TEST(LogTest, QuotedValuesReadBackToTheOriginal) {
  for (const std::string& value :
       {std::string("x.mp4 video=AAAA level=error"), std::string("say \"hi\" \\o/"),
        std::string("two\nlines\r\n"), std::string(""), std::string("caf\xC3\xA9 ok")}) {
    std::string line = FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "m", {{"v", value}});
    Parsed p = ReadTextLine(line);
    ASSERT_TRUE(p.ok) << line;
    EXPECT_EQ(p.fields.find("v")->second, value) << line;
  }
  // Plain values are not quoted.
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "m",
                          {{"v", "abc-123_x.mp4"}, {"n", 5}, {"ok", true}}),
            std::string(kTs) + " info m n=5 ok=true v=abc-123_x.mp4");
  // Bad bytes and controls are shown as escapes.
  EXPECT_EQ(
      FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "m", {{"v", "a\xff\x1b\xE2\x80\xAE"}}),
      std::string(kTs) + R"( info m v="a\xff\x1b\u202e")");
}

TEST(LogTest, MessagesAndKeysCannotForgeFieldsEither) {
  std::string line = FormatLogLine(LogFormat::kText, LogLevel::kWarning, kTs,
                                   "libav: title level=error\nforged", {{"bad key=x", 1}});
  Parsed p = ReadTextLine(line);
  ASSERT_TRUE(p.ok) << line;
  EXPECT_EQ(p.message, "libav: title level=error\nforged");
  ASSERT_EQ(p.fields.size(), 1u) << line;
  EXPECT_EQ(p.fields.begin()->first, "bad_key_x");
  // A plain sentence stays as it is.
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "worker started", nullptr),
            std::string(kTs) + " info worker started");
}

TEST(LogTest, ObjectValuesAreQuotedJson) {
  std::string line = FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTs, "m",
                                   {{"o", {{"a", "b c"}}}, {"after", 1}});
  Parsed p = ReadTextLine(line);
  ASSERT_TRUE(p.ok) << line;
  EXPECT_EQ(p.fields.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(p.fields.find("o")->second), nlohmann::json({{"a", "b c"}}));
}

TEST(LogTest, JsonLinesParseAndKeepTheirOwnKeys) {
  std::string line = FormatLogLine(LogFormat::kJson, LogLevel::kInfo, kTs, "queued",
                                   {{"filename", "caf\xE9\nlevel=error"}, {"level", "error"}});
  auto j = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "queued");
  EXPECT_EQ(j["_level"], "error");
  EXPECT_EQ(j["filename"], "caf\xEF\xBF\xBD\nlevel=error");
}

TEST(LogTest, UsersBadFilesAreWarningsAndTheServicesFailuresErrors) {
  for (ErrorCode code :
       {ErrorCode::kEmptyFile, ErrorCode::kNotAVideo, ErrorCode::kUnsupportedFormat,
        ErrorCode::kNoVideoStream, ErrorCode::kUnsupportedCodec, ErrorCode::kCorruptInput,
        ErrorCode::kTruncatedInput, ErrorCode::kTooLargeFile, ErrorCode::kTooLargeDimensions,
        ErrorCode::kTooLong, ErrorCode::kTooManyStreams, ErrorCode::kTooHighFrameRate}) {
    EXPECT_EQ(FailureLogLevel(code), LogLevel::kWarning) << CodeName(code);
  }
  for (ErrorCode code :
       {ErrorCode::kInternal, ErrorCode::kDatabaseError, ErrorCode::kStorageUnavailable,
        ErrorCode::kEncodeFailed, ErrorCode::kOutputWriteFailed, ErrorCode::kStorageFull}) {
    EXPECT_EQ(FailureLogLevel(code), LogLevel::kError) << CodeName(code);
  }
}

}  // namespace
}  // namespace vidproc
