#include "core/status.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <string>

namespace vidproc {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code_name(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s(ErrorCode::kTruncatedInput, "The file ends early.");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code_name(), "truncated_input");
  EXPECT_EQ(s.ToString(), "truncated_input: The file ends early.");
}

TEST(StatusTest, CodeNamesRoundTrip) {
  for (ErrorCode c :
       {ErrorCode::kEmptyFile, ErrorCode::kNotAVideo, ErrorCode::kUnsupportedFormat,
        ErrorCode::kNoVideoStream, ErrorCode::kCorruptInput, ErrorCode::kTruncatedInput,
        ErrorCode::kTooLargeDimensions, ErrorCode::kTooLong, ErrorCode::kEncodeFailed,
        ErrorCode::kOutputWriteFailed, ErrorCode::kCancelled}) {
    auto back = CodeFromName(CodeName(c));
    ASSERT_TRUE(back.has_value()) << CodeName(c);
    EXPECT_EQ(*back, c);
  }
  EXPECT_FALSE(CodeFromName("no_such_code").has_value());
}

TEST(StatusTest, InputErrorsArePermanentOthersAreNot) {
  EXPECT_TRUE(IsInputError(ErrorCode::kCorruptInput));
  EXPECT_TRUE(IsInputError(ErrorCode::kTooLong));
  EXPECT_FALSE(IsInputError(ErrorCode::kOutputWriteFailed));
  EXPECT_FALSE(IsInputError(ErrorCode::kCancelled));
}

TEST(StatusTest, RetryableIsTrueOnlyForTransientFailures) {
  for (ErrorCode c : {ErrorCode::kStorageUnavailable, ErrorCode::kDatabaseError,
                      ErrorCode::kTimeout, ErrorCode::kProcessCrashed}) {
    EXPECT_TRUE(IsRetryable(c)) << CodeName(c);
  }
  for (ErrorCode c : {ErrorCode::kStorageAuthFailed, ErrorCode::kInvalidConfig,
                      ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kOk}) {
    EXPECT_FALSE(IsRetryable(c)) << CodeName(c);
  }
  // The user's file gives the same answer every time.
  for (int i = 1; i <= static_cast<int>(kLastErrorCode); ++i) {
    auto c = static_cast<ErrorCode>(i);
    if (IsInputError(c)) {
      EXPECT_FALSE(IsRetryable(c)) << CodeName(c);
    }
  }
}

// docs/ERRORS.md lists every code with its `retryable` column; the code's table is the truth.
TEST(StatusTest, ErrorsDocListsEveryCodeWithItsRetryable) {
  std::ifstream in(VIDPROC_ERRORS_MD);
  ASSERT_TRUE(in) << VIDPROC_ERRORS_MD;
  std::map<std::string, bool> documented;
  const std::regex row(R"(^\| `([a-z_]+)` \| (yes|no) \|)");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, row)) documented[m[1]] = m[2] == "yes";
  }
  for (int i = 1; i <= static_cast<int>(kLastErrorCode); ++i) {
    auto c = static_cast<ErrorCode>(i);
    std::string name(CodeName(c));
    ASSERT_TRUE(documented.count(name)) << name << " is not in docs/ERRORS.md";
    EXPECT_EQ(documented[name], IsRetryable(c)) << name << ": docs/ERRORS.md says otherwise";
  }
  EXPECT_EQ(documented.size(), static_cast<size_t>(kLastErrorCode));
}

Result<int> Half(int v) {
  if (v % 2) return Status(ErrorCode::kInvalidArgument, "odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int half, Half(v));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(ResultTest, PropagatesTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace vidproc
