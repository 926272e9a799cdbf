#include "core/status.h"

#include <gtest/gtest.h>

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
