// ParseRange: the Range header of a GET against a file of a known size.
#include <gtest/gtest.h>

#include "http/server.h"

namespace vidproc::http {
namespace {

::testing::AssertionResult Is(const std::optional<ByteRange>& r, int64_t offset, int64_t length,
                              bool partial) {
  if (!r) return ::testing::AssertionFailure() << "unsatisfiable";
  if (r->offset != offset || r->length != length || r->partial != partial) {
    return ::testing::AssertionFailure()
           << "got offset " << r->offset << " length " << r->length << " partial " << r->partial;
  }
  return ::testing::AssertionSuccess();
}

TEST(RangeTest, NoHeaderIsTheWholeFile) { EXPECT_TRUE(Is(ParseRange("", 1000), 0, 1000, false)); }

TEST(RangeTest, FirstToLast) {
  EXPECT_TRUE(Is(ParseRange("bytes=0-99", 1000), 0, 100, true));
  EXPECT_TRUE(Is(ParseRange("bytes=100-199", 1000), 100, 100, true));
  EXPECT_TRUE(Is(ParseRange("bytes=5-5", 1000), 5, 1, true));
  EXPECT_TRUE(Is(ParseRange("bytes=0-999", 1000), 0, 1000, true));
}

TEST(RangeTest, LastPastTheEndIsClampedToTheEnd) {
  EXPECT_TRUE(Is(ParseRange("bytes=900-5000", 1000), 900, 100, true));
}

TEST(RangeTest, OpenEnded) {
  EXPECT_TRUE(Is(ParseRange("bytes=0-", 1000), 0, 1000, true));
  EXPECT_TRUE(Is(ParseRange("bytes=990-", 1000), 990, 10, true));
  EXPECT_TRUE(Is(ParseRange("bytes=999-", 1000), 999, 1, true));
}

TEST(RangeTest, Suffix) {
  EXPECT_TRUE(Is(ParseRange("bytes=-100", 1000), 900, 100, true));
  EXPECT_TRUE(Is(ParseRange("bytes=-1", 1000), 999, 1, true));
  EXPECT_TRUE(Is(ParseRange("bytes=-5000", 1000), 0, 1000, true));  // more than there is
}

TEST(RangeTest, StartAtOrPastTheEndIsUnsatisfiable) {
  EXPECT_FALSE(ParseRange("bytes=1000-", 1000));
  EXPECT_FALSE(ParseRange("bytes=1000-2000", 1000));
  EXPECT_FALSE(ParseRange("bytes=5000-6000", 1000));
  EXPECT_FALSE(ParseRange("bytes=-0", 1000));  // the last zero bytes
  EXPECT_FALSE(ParseRange("bytes=0-", 0));     // nothing in an empty file
  EXPECT_FALSE(ParseRange("bytes=-10", 0));
}

TEST(RangeTest, MultipleRangesGetTheWholeFile) {
  EXPECT_TRUE(Is(ParseRange("bytes=0-9,20-29", 1000), 0, 1000, false));
  EXPECT_TRUE(Is(ParseRange("bytes=0-9, -5", 1000), 0, 1000, false));
}

TEST(RangeTest, JunkGetsTheWholeFile) {
  for (const char* junk :
       {"items=0-9", "bytes 0-9", "bytes=", "bytes=abc", "bytes=a-b", "bytes=5-x", "bytes=-x",
        "bytes=9-3", "bytes=--5", "BYTES=0-9", "bytes=0-99999999999999999999"}) {
    EXPECT_TRUE(Is(ParseRange(junk, 1000), 0, 1000, false)) << junk;
  }
}

TEST(RangeTest, LargeFiles) {
  const int64_t size = int64_t{50} << 30;  // 50 GiB
  EXPECT_TRUE(Is(ParseRange("bytes=53687091100-", size), 53687091100, size - 53687091100, true));
  EXPECT_TRUE(Is(ParseRange("bytes=-1024", size), size - 1024, 1024, true));
}

TEST(UrlDecodeTest, PercentAndPlus) {
  EXPECT_EQ(UrlDecode("a%20b+c%2Fd"), "a b c/d");
  EXPECT_EQ(UrlDecode("%E2%9C%93"), "\xE2\x9C\x93");
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("%zz"), "%zz");
}

}  // namespace
}  // namespace vidproc::http
