// ParseImportRequest without HTTP: the JSON body of an import (POST /api/v1/videos with
// source_key or source_url), every class of invalid body refused with its stable code; the
// source-key rules, the thumbnail key beside a replaced source, and how an import URL is shown.
#include "http/import_request.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/redact.h"
#include "storage/blob_store.h"

namespace vidproc::http {
namespace {

ImportRequestCheck Parse(const std::string& body, bool source_keys = true) {
  return ParseImportRequest(body, source_keys);
}

// `bytes` inside a JSON string as a client would write them: quotes, backslashes and control
// characters escaped, every other byte as it is (so bytes that are not UTF-8 stay so).
std::string JsonStringBytes(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The refusal's code ("" when accepted), its status checked to be 400.
std::string CodeOf(const std::string& body, bool source_keys = true) {
  ImportRequestCheck check = Parse(body, source_keys);
  if (check.ok()) return "";
  EXPECT_EQ(check.refusal->status, 400) << body;
  EXPECT_FALSE(check.refusal->message.empty()) << body;
  return check.refusal->code;
}

TEST(ImportRequestTest, AKeyImportIsParsedWithTheIdsAndAFilename) {
  auto check =
      Parse(R"({"source_key": "media/uploads/2026/Trip to Rome (1).mov", "replace_source": true,)"
            R"( "external_id": "post-9", "metadata": {"user": 4}})");
  ASSERT_TRUE(check.ok()) << check.refusal->message;
  EXPECT_EQ(check.request.source_key, "media/uploads/2026/Trip to Rome (1).mov");
  EXPECT_TRUE(check.request.source_url.empty());
  EXPECT_TRUE(check.request.replace_source);
  EXPECT_EQ(check.request.filename, "Trip to Rome (1).mov");
  auto odd = Parse(R"({"source_key": "media/what?#1.mov"})");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd.request.filename, "what?#1.mov") << "a key has no query to cut";
  EXPECT_EQ(check.request.ids.external_id, "post-9");
  EXPECT_EQ(check.request.ids.metadata, nlohmann::json({{"user", 4}}));
}

TEST(ImportRequestTest, AUrlImportTakesItsNameFromThePathNotTheQuery) {
  auto check = Parse(R"({"source_url": "https://cdn.example.com/a/clip.mp4?X-Amz-Signature=s"})");
  ASSERT_TRUE(check.ok()) << check.refusal->message;
  EXPECT_EQ(check.request.source_url, "https://cdn.example.com/a/clip.mp4?X-Amz-Signature=s");
  EXPECT_FALSE(check.request.replace_source);
  EXPECT_EQ(check.request.filename, "clip.mp4");
  EXPECT_TRUE(check.request.ids.external_id.empty());
  EXPECT_TRUE(check.request.ids.metadata.is_null());

  auto named = Parse(R"({"source_url": "https://example.com/", "filename": "../x/holiday.mov"})");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named.request.filename, "holiday.mov") << "cleaned like an upload's name";
  auto bare = Parse(R"({"source_url": "https://example.com"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.request.filename, "import");
  // null members are absent members.
  EXPECT_EQ(CodeOf(R"({"source_url": "https://example.com/v", "source_key": null,)"
                   R"( "replace_source": null, "external_id": null, "metadata": null})"),
            "");
}

TEST(ImportRequestTest, MalformedBodiesAreInvalidImport) {
  for (const std::string& body : std::vector<std::string>{
           "", "not json", "[]", "\"source_key\"", "42", "null", "{\"source_key\": \"a\"",
           // not exactly one source
           "{}", R"({"external_id": "x"})",
           R"({"source_key": "media/a.mov", "source_url": "https://example.com/a.mov"})",
           // wrong types
           R"({"source_key": 7})", R"({"source_key": ["media/a.mov"]})",
           R"({"source_url": {"href": "https://example.com"}})",
           R"({"source_key": "media/a.mov", "replace_source": "yes"})",
           R"({"source_key": "media/a.mov", "replace_source": 1})",
           R"({"source_key": "media/a.mov", "filename": 3})",
           // unknown members (a typo must not be ignored)
           R"({"source_key": "media/a.mov", "replace": true})", R"({"sourceKey": "media/a.mov"})",
           R"({"source_url": "https://example.com/a", "file": "x"})"}) {
    EXPECT_EQ(CodeOf(body), kInvalidImport) << body;
  }
  const std::string huge =
      R"({"source_url": "https://example.com/a", "filename": ")" + std::string(40'000, 'a') + "\"}";
  EXPECT_EQ(CodeOf(huge), kInvalidImport);
}

TEST(ImportRequestTest, EveryInvalidSourceKeyIsRefused) {
  for (const std::string& key : std::vector<std::string>{
           "", "/media/a.mov", "media/", "media//a.mov", "media/../secrets/a.mov", "..", "../a.mov",
           "media/./a.mov", "media/..", std::string(1025, 'k'), std::string("media/a\x01.mov"),
           std::string("media/a\nb.mov"), std::string("a\x7f"), "media/\xC3(bad.mov",
           "media/\xE2\x80\xAEvom.exe",  // bad UTF-8, a bidi override
           "videos/abc/video.mp4", "videos/x", "uploads/abc/00000000000000000000",
           "readyz-probe"}) {
    const std::string text = "{\"source_key\": \"" + JsonStringBytes(key) + "\"}";
    Status direct = storage::CheckSourceKey(key);
    EXPECT_EQ(direct.code(), ErrorCode::kInvalidArgument) << key;
    std::string code = CodeOf(text);
    // A body whose bytes are not UTF-8 is not JSON at all: refused as a malformed import.
    EXPECT_TRUE(code == kInvalidSourceKey || code == kInvalidImport) << key << ": " << code;
  }
  for (const std::string& key : std::vector<std::string>{
           "a.mov", "media/2026/01/Trip to Rome (1).mov", "media/caf\xC3\xA9 \xF0\x9F\x8E\xAC.mp4",
           "a..b.mov", "media/what?#1.mov", "videosx/a.mov", "media/videos/a.mov",
           std::string(1024, 'k')}) {
    EXPECT_TRUE(storage::CheckSourceKey(key).ok()) << key;
    EXPECT_EQ(CodeOf(nlohmann::json({{"source_key", key}}).dump()), "") << key;
  }
}

TEST(ImportRequestTest, SourceUrlsAreCheckedForTheirForm) {
  for (const std::string& url :
       std::vector<std::string>{"file:///etc/passwd", "ftp://example.com/a.mov", "gopher://x/",
                                "https://user:pw@example.com/a.mov", "/local/a.mov", "example.com",
                                "", "https://example.com/" + std::string(5000, 'a')}) {
    EXPECT_EQ(CodeOf(nlohmann::json({{"source_url", url}}).dump()), "source_refused") << url;
  }
}

TEST(ImportRequestTest, ReplaceSourceNeedsAKeyAndKeysNeedABucket) {
  EXPECT_EQ(CodeOf(R"({"source_url": "https://example.com/a.mov", "replace_source": true})"),
            kReplaceSourceNeedsKey);
  EXPECT_EQ(CodeOf(R"({"source_url": "https://example.com/a.mov", "replace_source": false})"), "");
  EXPECT_EQ(CodeOf(R"({"source_key": "media/a.mov"})", /*source_keys=*/false),
            kSourceKeyUnsupported);
  EXPECT_EQ(CodeOf(R"({"source_url": "https://example.com/a.mov"})", /*source_keys=*/false), "");
}

TEST(ImportRequestTest, ThePlatformIdsFollowTheUploadRules) {
  EXPECT_EQ(CodeOf(R"({"source_key": "a.mov", "external_id": 5})"), kInvalidExternalId);
  EXPECT_EQ(CodeOf(R"({"source_key": "a.mov", "external_id": ")" + std::string(256, 'x') + "\"}"),
            kInvalidExternalId);
  EXPECT_EQ(CodeOf(R"({"source_key": "a.mov", "metadata": [1]})"), kInvalidMetadata);
  EXPECT_EQ(CodeOf(R"({"source_key": "a.mov", "metadata": "{}"})"), kInvalidMetadata);
  EXPECT_EQ(
      CodeOf(R"({"source_key": "a.mov", "metadata": {"k": ")" + std::string(5000, 'v') + "\"}}"),
      kMetadataTooLarge);
}

TEST(ImportRequestTest, TheThumbnailOfAReplacedSourceGoesBesideIt) {
  EXPECT_EQ(storage::ThumbnailKeyBeside("media/trip.mov"), "media/trip.jpg");
  EXPECT_EQ(storage::ThumbnailKeyBeside("media/trip.final.MP4"), "media/trip.final.jpg");
  EXPECT_EQ(storage::ThumbnailKeyBeside("media/trip"), "media/trip.jpg");
  EXPECT_EQ(storage::ThumbnailKeyBeside("media.d/trip"), "media.d/trip.jpg");
  EXPECT_EQ(storage::ThumbnailKeyBeside("media/.mov"), "media/.mov.jpg");
  EXPECT_EQ(storage::ThumbnailKeyBeside("media/still.jpg"), "media/still.thumbnail.jpg");
  const auto own = storage::OutputKeysOf("abc", "");
  EXPECT_EQ(own.video, storage::VideoKey("abc"));
  EXPECT_EQ(own.thumbnail, storage::ThumbnailKey("abc"));
  const auto replaced = storage::OutputKeysOf("abc", "media/trip.mov");
  EXPECT_EQ(replaced.video, "media/trip.mov");
  EXPECT_EQ(replaced.thumbnail, "media/trip.jpg");
}

TEST(ImportRequestTest, AnImportUrlIsShownWithoutItsQueryOrCredentials) {
  const std::string presigned =
      "https://bucket.nyc3.digitaloceanspaces.com/media/a.mov?X-Amz-Credential=AKIA%2F&"
      "X-Amz-Signature=deadbeef#frag";
  EXPECT_EQ(RedactedUrl(presigned), "https://bucket.nyc3.digitaloceanspaces.com/media/a.mov?****");
  EXPECT_EQ(UrlHost(presigned), "bucket.nyc3.digitaloceanspaces.com");
  EXPECT_EQ(RedactedUrl("http://user:pw@10.0.0.5:8080/v.mp4"), "http://10.0.0.5:8080/v.mp4");
  EXPECT_EQ(UrlHost("http://[::1]:8080/v.mp4"), "[::1]:8080");
  EXPECT_EQ(RedactedUrl("https://example.com"), "https://example.com");
  EXPECT_EQ(RedactedUrl("not a url?token=x"), "****");
  EXPECT_EQ(UrlHost("not a url"), "");
}

}  // namespace
}  // namespace vidproc::http
