// The header and query value parsers of http/headers.h, each on valid, edge and hostile input.
#include "http/headers.h"

#include <gtest/gtest.h>

#include <string>

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

TEST(UrlDecodeTest, CutEscapesStayAsTheyAre) {
  EXPECT_EQ(UrlDecode("%4"), "%4");
  EXPECT_EQ(UrlDecode("%"), "%");
  EXPECT_EQ(UrlDecode("a%4g"), "a%4g");
  EXPECT_EQ(UrlDecode("%41%42"), "AB");
  EXPECT_EQ(UrlDecode("%2b"), "+");  // an escaped plus is a plus, not a space
  EXPECT_EQ(UrlDecode(""), "");
}

TEST(UrlDecodeTest, NulAndHighBytesArePassedThrough) {
  EXPECT_EQ(UrlDecode("%00"), std::string(1, '\0'));
  EXPECT_EQ(UrlDecode("%ff%FF"), "\xff\xff");
}

TEST(QueryValueTest, FindsDecodedValues) {
  EXPECT_EQ(QueryValue("status=ready&limit=5", "limit"), "5");
  EXPECT_EQ(QueryValue("status=ready&limit=5", "status"), "ready");
  EXPECT_EQ(QueryValue("cursor=a%2Bb+c", "cursor"), "a+b c");
  EXPECT_EQ(QueryValue("s%69g=x", "sig"), "x");  // names are decoded too
}

TEST(QueryValueTest, AbsentEmptyAndRepeated) {
  EXPECT_EQ(QueryValue("a=1", "b"), std::nullopt);
  EXPECT_EQ(QueryValue("", "a"), std::nullopt);
  EXPECT_EQ(QueryValue("flag", "flag"), "");
  EXPECT_EQ(QueryValue("a=", "a"), "");
  EXPECT_EQ(QueryValue("a=1&a=2", "a"), "1");  // the first one counts
  EXPECT_EQ(QueryValue("&&a=1&", "a"), "1");
  EXPECT_EQ(QueryValue("a=b=c", "a"), "b=c");
}

TEST(ParseNonNegativeTest, WholeNumbersOnly) {
  EXPECT_EQ(ParseNonNegative("0"), 0);
  EXPECT_EQ(ParseNonNegative("42"), 42);
  EXPECT_EQ(ParseNonNegative("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "-1", "1.5", "1e3", " 1", "1 ", "0x10", "abc", "12abc",
                          "9223372036854775808", "99999999999999999999999"}) {
    EXPECT_EQ(ParseNonNegative(bad), std::nullopt) << bad;
  }
}

TEST(Base64DecodeTest, StandardAlphabet) {
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9v"), "foo");
  EXPECT_EQ(Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64Decode("bXkgdmlkZW8ubXA0"), "my video.mp4");
  EXPECT_EQ(Base64Decode("Zg"), "f");  // padding may be left out
  EXPECT_EQ(Base64Decode("+/+/"), "\xfb\xff\xbf");
}

TEST(Base64DecodeTest, StopsAtTheFirstCharacterOutsideTheAlphabet) {
  EXPECT_EQ(Base64Decode("Zm9v!YmFy"), "foo");
  EXPECT_EQ(Base64Decode("Zm9v YmFy"), "foo");
  EXPECT_EQ(Base64Decode("-_-_"), "");  // the URL-safe alphabet is not this one
  EXPECT_EQ(Base64Decode("Z"), "");     // six bits make no byte
}

TEST(Base64DecodeTest, LongInputDecodesWhole) {
  // 3000 bytes from 4000 characters: the decoder keeps no more state than one quantum.
  std::string encoded;
  for (int i = 0; i < 1000; ++i) encoded += "/////";
  encoded.resize(4000);
  const std::string decoded = Base64Decode(encoded);
  ASSERT_EQ(decoded.size(), 3000u);
  EXPECT_EQ(decoded, std::string(3000, '\xff'));
}

TEST(MetadataValueTest, FindsAKeyInTheList) {
  const std::string header = "filename bXkgdmlkZW8ubXA0,filetype dmlkZW8vbXA0";
  EXPECT_EQ(MetadataValue(header, "filename"), "my video.mp4");
  EXPECT_EQ(MetadataValue(header, "filetype"), "video/mp4");
  EXPECT_EQ(MetadataValue("a Zg==, filename Zm9v", "filename"), "foo");  // blanks after commas
}

TEST(MetadataValueTest, AbsentKeysAndKeysWithoutValues) {
  EXPECT_EQ(MetadataValue("", "filename"), "");
  EXPECT_EQ(MetadataValue("name Zm9v", "filename"), "");
  EXPECT_EQ(MetadataValue("filenames Zm9v", "filename"), "");  // a whole key, not a prefix
  EXPECT_EQ(MetadataValue("is_confidential,filename Zm9v", "is_confidential"), "");
  EXPECT_EQ(MetadataValue("is_confidential,filename Zm9v", "filename"), "foo");
  EXPECT_EQ(MetadataValue("filename Zm9v,filename YmFy", "filename"), "foo");  // the first
}

TEST(MetadataValueTest, HostileListsAreHarmless) {
  EXPECT_EQ(MetadataValue(",,,", "filename"), "");
  EXPECT_EQ(MetadataValue("filename", "filename"), "");
  EXPECT_EQ(MetadataValue("filename !!!!", "filename"), "");
  EXPECT_EQ(MetadataValue(std::string(100000, ','), "filename"), "");
}

TEST(HttpDateTest, ImfFixdate) {
  EXPECT_EQ(HttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(HttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  EXPECT_EQ(HttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");  // a leap day
  EXPECT_EQ(HttpDate(4102444799), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(EtagListMatchesTest, StrongWeakAndStar) {
  const std::string etag = "\"100-5\"";
  EXPECT_TRUE(EtagListMatches("\"100-5\"", etag));
  EXPECT_TRUE(EtagListMatches("W/\"100-5\"", etag));  // compared weakly
  EXPECT_TRUE(EtagListMatches("*", etag));
  EXPECT_TRUE(EtagListMatches("\"a\", \"100-5\"", etag));
  EXPECT_TRUE(EtagListMatches("\"a\",\t\"100-5\" ", etag));
}

TEST(EtagListMatchesTest, OthersDoNotMatch) {
  const std::string etag = "\"100-5\"";
  EXPECT_FALSE(EtagListMatches("", etag));
  EXPECT_FALSE(EtagListMatches("\"100-6\"", etag));
  EXPECT_FALSE(EtagListMatches("100-5", etag));  // unquoted is another tag
  EXPECT_FALSE(EtagListMatches("\"100-5", etag));
  EXPECT_FALSE(EtagListMatches("w/\"100-5\"", etag));  // "W/" is case-sensitive
  EXPECT_FALSE(EtagListMatches(",,, ,", etag));
  EXPECT_FALSE(EtagListMatches("**", etag));
}

TEST(IsPlainWordTest, LettersDigitsAndTheGivenCharacters) {
  EXPECT_TRUE(IsPlainWord("0123456789abcdef", "-_"));
  EXPECT_TRUE(IsPlainWord("a-b_c", "-_"));
  EXPECT_TRUE(IsPlainWord(std::string(64, 'x'), ""));
  EXPECT_FALSE(IsPlainWord(std::string(65, 'x'), ""));
  EXPECT_FALSE(IsPlainWord("", "-_"));
  EXPECT_FALSE(IsPlainWord("a.b", "-_"));
  EXPECT_TRUE(IsPlainWord("a.b", "-_."));
  for (const char* hostile : {"../etc", "a b", "a\nb", "a%20", "\xc3\xa9", "a/b"}) {
    EXPECT_FALSE(IsPlainWord(hostile, "-_.")) << hostile;
  }
}

}  // namespace
}  // namespace vidproc::http
