// MultipartParser on bodies built here byte by byte: every way a body can be split into chunks,
// other fields, file names with paths, and the malformed bodies it must refuse.
#include "http/multipart.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidproc::http {
namespace {

constexpr char kBoundary[] = "----vidprocBoundary7MA4YWxk";

// A form with a text field before and after the file, as browsers send it.
std::string Form(const std::string& file_bytes, const std::string& filename = "clip.mp4") {
  const std::string b = std::string("--") + kBoundary;
  return b + "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy holiday\r\n" + b +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: video/mp4\r\n\r\n" + file_bytes + "\r\n" + b +
         "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n--not a boundary\r\n" + b +
         "--\r\n";
}

// File bytes that look like parts of the delimiter, so a split in the wrong place shows.
std::string TrickyBytes() {
  std::string s = "\x00\x01mp4\r\n-\r\n--\r\n--" + std::string(kBoundary).substr(0, 10) + "tail\r";
  s[0] = '\0';
  for (int i = 0; i < 300; ++i) s += static_cast<char>(i * 7 + 3);
  return s + "\r\n-";
}

struct Parsed {
  Status feed;
  Status finish;
  std::string file;
  std::string filename;
};

// Feeds `body` in pieces cut at `cuts` (increasing offsets).
Parsed Parse(const std::string& body, const std::vector<size_t>& cuts,
             const std::string& boundary = kBoundary) {
  Parsed p;
  MultipartParser parser(boundary, "file", [&p](const char* data, size_t size) {
    p.file.append(data, size);
    return Status::Ok();
  });
  size_t from = 0;
  std::vector<size_t> all = cuts;
  all.push_back(body.size());
  for (size_t to : all) {
    p.feed = parser.Feed(body.data() + from, to - from);
    if (!p.feed.ok()) return p;
    from = to;
  }
  p.finish = parser.Finish();
  p.filename = parser.filename();
  EXPECT_EQ(parser.file_bytes(), static_cast<int64_t>(p.file.size()));
  return p;
}

TEST(MultipartTest, WholeBodyInOneChunk) {
  const std::string file = TrickyBytes();
  Parsed p = Parse(Form(file), {});
  ASSERT_TRUE(p.feed.ok()) << p.feed.ToString();
  ASSERT_TRUE(p.finish.ok()) << p.finish.ToString();
  EXPECT_EQ(p.file, file);
  EXPECT_EQ(p.filename, "clip.mp4");
}

TEST(MultipartTest, FileSplitAcrossTwoChunksAtEveryPoint) {
  const std::string file = TrickyBytes();
  const std::string body = Form(file);
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    Parsed p = Parse(body, {cut});
    ASSERT_TRUE(p.feed.ok()) << "cut at " << cut << ": " << p.feed.ToString();
    ASSERT_TRUE(p.finish.ok()) << "cut at " << cut << ": " << p.finish.ToString();
    ASSERT_EQ(p.file, file) << "cut at " << cut;
    ASSERT_EQ(p.filename, "clip.mp4") << "cut at " << cut;
  }
}

TEST(MultipartTest, SplitAtEveryPairOfPointsAroundTheClosingDelimiter) {
  // Three chunks with both cuts anywhere in the file's closing delimiter and its surroundings.
  const std::string file = TrickyBytes();
  const std::string body = Form(file);
  const size_t delimiter_at = body.find("\r\n--" + std::string(kBoundary), body.find(file));
  ASSERT_NE(delimiter_at, std::string::npos);
  const size_t lo = delimiter_at - 8, hi = delimiter_at + 4 + sizeof(kBoundary) + 8;
  for (size_t a = lo; a <= hi; ++a) {
    for (size_t b = a; b <= hi; ++b) {
      Parsed p = Parse(body, {a, b});
      ASSERT_TRUE(p.feed.ok() && p.finish.ok()) << "cuts " << a << "," << b;
      ASSERT_EQ(p.file, file) << "cuts " << a << "," << b;
    }
  }
}

TEST(MultipartTest, ByteAtATime) {
  const std::string file = TrickyBytes();
  const std::string body = Form(file);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  Parsed p = Parse(body, cuts);
  ASSERT_TRUE(p.feed.ok() && p.finish.ok());
  EXPECT_EQ(p.file, file);
}

TEST(MultipartTest, OtherFieldsAreIgnored) {
  Parsed p = Parse(Form("VIDEO"), {});
  ASSERT_TRUE(p.finish.ok());
  EXPECT_EQ(p.file, "VIDEO");  // neither "My holiday" nor the note
}

TEST(MultipartTest, OnlyTheFirstFileFieldIsTaken) {
  const std::string b = std::string("--") + kBoundary;
  std::string body =
      b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\nAAA\r\n" +
      b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.mp4\"\r\n\r\nBBB\r\n" +
      b + "--\r\n";
  Parsed p = Parse(body, {});
  ASSERT_TRUE(p.finish.ok());
  EXPECT_EQ(p.file, "AAA");
  EXPECT_EQ(p.filename, "a.mp4");
}

TEST(MultipartTest, PreambleAndEpilogueAreIgnored) {
  std::string body = "This is a preamble.\r\n" + Form("X") + "epilogue bytes";
  Parsed p = Parse(body, {});
  ASSERT_TRUE(p.feed.ok() && p.finish.ok());
  EXPECT_EQ(p.file, "X");
}

TEST(MultipartTest, FilenameWithAPathIsReducedToItsLastComponent) {
  EXPECT_EQ(Parse(Form("x", "/home/me/videos/trip.mov"), {}).filename, "trip.mov");
  // A quoted-string with escaped backslashes (RFC 7230 quoted-pair).
  EXPECT_EQ(Parse(Form("x", "C:\\\\Users\\\\me\\\\trip.mov"), {}).filename, "trip.mov");
  EXPECT_EQ(Parse(Form("x", "../../etc/passwd"), {}).filename, "passwd");
}

// Browsers send the file name as typed, without backslash escapes (WHATWG HTML: only CR, LF and
// '"' are percent-encoded), and old ones send the whole Windows path: C:\Users\me\trip.mov.
TEST(MultipartTest, WindowsPathWithPlainBackslashesIsReducedToItsLastComponent) {
  EXPECT_EQ(Parse(Form("x", "C:\\Users\\me\\trip.mov"), {}).filename, "trip.mov");
}

TEST(MultipartTest, MissingClosingBoundaryIsAnError) {
  std::string body = Form("VIDEO");
  body.resize(body.rfind("--\r\n") - sizeof(kBoundary) - 1);  // cut before the last delimiter
  Parsed p = Parse(body, {});
  ASSERT_TRUE(p.feed.ok());
  EXPECT_EQ(p.finish.code(), ErrorCode::kInvalidArgument);

  // Cut anywhere inside the final delimiter line: still not finished.
  std::string whole = Form("VIDEO");
  for (size_t cut = whole.rfind("\r\n--"); cut < whole.size() - 2; ++cut) {
    Parsed q = Parse(whole.substr(0, cut), {});
    EXPECT_EQ(q.finish.code(), ErrorCode::kInvalidArgument) << "cut at " << cut;
  }
}

TEST(MultipartTest, AFormWithoutAFileFieldIsAnError) {
  const std::string b = std::string("--") + kBoundary;
  std::string body =
      b + "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nonly text\r\n" + b + "--\r\n";
  Parsed p = Parse(body, {});
  ASSERT_TRUE(p.feed.ok());
  EXPECT_EQ(p.finish.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(p.file.empty());
}

TEST(MultipartTest, BodyWithoutAnyBoundaryIsAnError) {
  Parsed p = Parse("just some bytes, no multipart at all", {});
  EXPECT_EQ(p.finish.code(), ErrorCode::kInvalidArgument);
}

TEST(MultipartTest, GarbageAfterABoundaryIsAnError) {
  std::string body = std::string("--") + kBoundary + "XX\r\n";
  Parsed p = Parse(body, {});
  EXPECT_EQ(p.feed.code(), ErrorCode::kInvalidArgument);
}

TEST(MultipartTest, SinkErrorIsPassedOn) {
  MultipartParser parser(kBoundary, "file", [](const char*, size_t) {
    return Status(ErrorCode::kTooLargeFile, "too big");
  });
  std::string body = Form(std::string(1000, 'x'));
  EXPECT_EQ(parser.Feed(body.data(), body.size()).code(), ErrorCode::kTooLargeFile);
}

TEST(MultipartTest, BoundaryFromContentType) {
  auto plain = MultipartParser::BoundaryOf("multipart/form-data; boundary=abc123");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value(), "abc123");

  auto quoted = MultipartParser::BoundaryOf("multipart/form-data; boundary=\"a b:c;d\"");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(quoted.value(), "a b:c;d");

  auto cased = MultipartParser::BoundaryOf("Multipart/Form-Data; charset=utf-8; BOUNDARY=XyZ");
  ASSERT_TRUE(cased.ok());
  EXPECT_EQ(cased.value(), "XyZ");  // the parameter name is case-insensitive, the value is not

  auto after = MultipartParser::BoundaryOf("multipart/form-data; boundary=xyz; charset=utf-8");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value(), "xyz");
}

TEST(MultipartTest, BadContentTypesHaveNoBoundary) {
  EXPECT_FALSE(MultipartParser::BoundaryOf("application/json").ok());
  EXPECT_FALSE(MultipartParser::BoundaryOf("multipart/form-data").ok());
  EXPECT_FALSE(MultipartParser::BoundaryOf("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(MultipartParser::BoundaryOf("multipart/form-data; boundary=\"\"").ok());
  EXPECT_FALSE(
      MultipartParser::BoundaryOf("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
  EXPECT_FALSE(MultipartParser::BoundaryOf("multipart/form-data; xboundary=abc").ok());
}

TEST(MultipartTest, QuotedBoundaryParsesAWholeBody) {
  auto boundary = MultipartParser::BoundaryOf("multipart/form-data; boundary=\"q:b\"");
  ASSERT_TRUE(boundary.ok());
  std::string body =
      "--q:b\r\nContent-Disposition: form-data; name=\"file\"; "
      "filename=\"x.mp4\"\r\n\r\nDATA\r\n--q:b--\r\n";
  Parsed p = Parse(body, {}, boundary.value());
  ASSERT_TRUE(p.finish.ok()) << p.finish.ToString();
  EXPECT_EQ(p.file, "DATA");
}

// Named text fields (the platform's ids) are kept wherever they are in the form and however the
// body is cut into chunks, bounded, the first of a repeated name kept; the file is untouched.
TEST(MultipartTest, NamedTextFieldsAreKeptBoundedWhereverTheyAre) {
  const std::string b = std::string("--") + kBoundary;
  const std::string long_value(50, 'x');
  const std::string body =
      b + "\r\nContent-Disposition: form-data; name=\"external_id\"\r\n\r\norder-17\r\n" + b +
      "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n" +
      TrickyBytes() + "\r\n" + b +
      "\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"a\":\"\r\n--\"}\r\n" + b +
      "\r\nContent-Disposition: form-data; name=\"external_id\"\r\n\r\nsecond\r\n" + b +
      "\r\nContent-Disposition: form-data; name=\"long\"\r\n\r\n" + long_value + "\r\n" + b +
      "--\r\n";
  for (size_t cut = 0; cut <= body.size(); cut += 7) {
    std::string file;
    MultipartParser parser(kBoundary, "file", [&file](const char* data, size_t size) {
      file.append(data, size);
      return Status::Ok();
    });
    parser.CaptureField("external_id", 255);
    parser.CaptureField("metadata", 4096);
    parser.CaptureField("long", 10);
    parser.CaptureField("absent", 10);
    ASSERT_TRUE(parser.Feed(body.data(), cut).ok());
    ASSERT_TRUE(parser.Feed(body.data() + cut, body.size() - cut).ok());
    ASSERT_TRUE(parser.Finish().ok()) << cut;
    EXPECT_EQ(parser.field("external_id"), "order-17") << cut;
    EXPECT_EQ(parser.field("metadata"), "{\"a\":\"\r\n--\"}") << cut;
    EXPECT_EQ(parser.field("long"), long_value.substr(0, 11)) << "bounded at max + 1: " << cut;
    EXPECT_EQ(parser.field("absent"), std::nullopt);
    EXPECT_EQ(parser.field("never asked"), std::nullopt);
    EXPECT_EQ(file, TrickyBytes()) << cut;
  }
}

}  // namespace
}  // namespace vidproc::http
