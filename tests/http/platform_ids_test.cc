// CheckPlatformIds and PlatformIdsFromTusMetadata without HTTP: what every upload path accepts as
// the platform's external_id and metadata, and each class of value refused with its code.
#include "http/platform_ids.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/http_test_util.h"

namespace vidproc::http {
namespace {

using testing::Base64;

std::string Nested(int depth) {
  std::string text;
  for (int i = 1; i < depth; ++i) text += "{\"a\":";
  text += "{}";
  for (int i = 1; i < depth; ++i) text += "}";
  return text;
}

// A metadata object whose compact JSON is exactly `bytes` long.
std::string MetadataOfSize(size_t bytes) {
  const std::string frame = "{\"k\":\"\"}";
  return "{\"k\":\"" + std::string(bytes - frame.size(), 'v') + "\"}";
}

TEST(PlatformIdsTest, AcceptedValuesAreKeptAsGiven) {
  const std::string longest(kMaxExternalIdBytes, 'a');
  for (const std::string& id :
       {std::string("order-17"), std::string("caf\xC3\xA9 \xF0\x9F\x8E\xAC"), longest,
        std::string("a b/c?d=e&f")}) {
    auto check = CheckPlatformIds(id, "");
    ASSERT_TRUE(check.ok()) << id << ": " << check.refusal->message;
    EXPECT_EQ(check.ids.external_id, id);
    EXPECT_TRUE(check.ids.metadata.is_null());
  }
  const std::string metadata = R"({"user": 42, "tags": ["a", "\u00e9"], "deep": )" +
                               Nested(kMaxMetadataDepth - 1) + R"(, "n": null, "f": 1.5})";
  auto check = CheckPlatformIds("", metadata);
  ASSERT_TRUE(check.ok()) << check.refusal->message;
  EXPECT_EQ(check.ids.external_id, "");
  EXPECT_EQ(check.ids.metadata, nlohmann::json::parse(metadata));
  EXPECT_TRUE(CheckPlatformIds("", "{}").ids.metadata.is_object());
  EXPECT_TRUE(CheckPlatformIds("", MetadataOfSize(kMaxMetadataBytes)).ok());
  // The JSON-body form: a string and an object, or nulls for none.
  auto json = CheckPlatformIdsJson(nlohmann::json("x-1"), nlohmann::json({{"a", 1}}));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json.ids.external_id, "x-1");
  EXPECT_EQ(json.ids.metadata, nlohmann::json({{"a", 1}}));
  EXPECT_TRUE(CheckPlatformIdsJson(nlohmann::json(), nlohmann::json()).ok());
}

TEST(PlatformIdsTest, EachInvalidClassIsRefusedWithItsCode) {
  struct Case {
    std::string label;
    std::string external_id;
    std::string metadata;
    std::string_view code;
  };
  const std::vector<Case> cases = {
      {"over-long id", std::string(kMaxExternalIdBytes + 1, 'a'), "", kInvalidExternalId},
      {"over-long multibyte id",
       [] {
         std::string id;
         for (size_t i = 0; i * 2 <= kMaxExternalIdBytes; ++i) id += "\xC3\xA9";
         return id;
       }(),
       "", kInvalidExternalId},
      {"invalid UTF-8", "ab\xC3(", "", kInvalidExternalId},
      {"overlong NUL", "a\xC0\x80", "", kInvalidExternalId},
      {"lone surrogate", "a\xED\xA0\x80", "", kInvalidExternalId},
      {"NUL", std::string("a\0b", 3), "", kInvalidExternalId},
      {"newline", "a\nb", "", kInvalidExternalId},
      {"escape", "a\x1b[31m", "", kInvalidExternalId},
      {"DEL", "a\x7f", "", kInvalidExternalId},
      {"C1 control", "a\xC2\x85", "", kInvalidExternalId},
      {"bidi override", "a\xE2\x80\xAE", "", kInvalidExternalId},
      {"array", "", "[1,2]", kInvalidMetadata},
      {"string", "", "\"text\"", kInvalidMetadata},
      {"number", "", "42", kInvalidMetadata},
      {"null", "", "null", kInvalidMetadata},
      {"not JSON", "", "{\"a\":", kInvalidMetadata},
      {"trailing text", "", "{} {}", kInvalidMetadata},
      {"invalid UTF-8 in a string", "", "{\"a\":\"\xC3(\"}", kInvalidMetadata},
      {"control character in a string", "", R"({"a":"x\u0001"})", kInvalidMetadata},
      {"newline in a string", "", R"({"a":"x\ny"})", kInvalidMetadata},
      {"control character in a key", "", R"({"a\u001b":1})", kInvalidMetadata},
      {"number out of range", "", R"({"a":1e400})", kInvalidMetadata},
      {"too deep", "", Nested(kMaxMetadataDepth + 1), kInvalidMetadata},
      {"too deep in an array", "",
       "{\"a\":" + std::string(kMaxMetadataDepth, '[') + std::string(kMaxMetadataDepth, ']') + "}",
       kInvalidMetadata},
      {"far too deep", "", "{\"a\":" + std::string(2040, '[') + std::string(2040, ']') + "}",
       kInvalidMetadata},
      {"one byte too large", "", MetadataOfSize(kMaxMetadataBytes + 1), kMetadataTooLarge},
      {"padded past the cap", "", "{" + std::string(kMaxMetadataBytes, ' ') + "}",
       kMetadataTooLarge},
      {"far too large", "", MetadataOfSize(1 << 20), kMetadataTooLarge},
  };
  for (const Case& c : cases) {
    auto check = CheckPlatformIds(c.external_id, c.metadata);
    ASSERT_FALSE(check.ok()) << c.label;
    EXPECT_EQ(check.refusal->status, 400) << c.label;
    EXPECT_EQ(check.refusal->code, c.code) << c.label;
    EXPECT_FALSE(check.refusal->message.empty()) << c.label;
    // The same from tus, each value base64 as tus sends it.
    std::string header = "filename " + Base64("a.mp4");
    if (!c.external_id.empty()) header += ",external_id " + Base64(c.external_id);
    if (!c.metadata.empty()) header += ",metadata " + Base64(c.metadata);
    auto tus = PlatformIdsFromTusMetadata(header);
    ASSERT_FALSE(tus.ok()) << c.label;
    EXPECT_EQ(tus.refusal->code, c.code) << c.label;
  }
  // The JSON-body form refuses other types.
  EXPECT_EQ(CheckPlatformIdsJson(nlohmann::json(17), nlohmann::json()).refusal->code,
            kInvalidExternalId);
  EXPECT_EQ(CheckPlatformIdsJson(nlohmann::json(), nlohmann::json::array()).refusal->code,
            kInvalidMetadata);
  EXPECT_EQ(CheckPlatformIdsJson(nlohmann::json(), nlohmann::json("{}")).refusal->code,
            kInvalidMetadata);
  EXPECT_EQ(CheckPlatformIdsJson(nlohmann::json(), nlohmann::json::parse(MetadataOfSize(5000)))
                .refusal->code,
            kMetadataTooLarge);
}

TEST(PlatformIdsTest, TusValuesAreBase64) {
  auto both = PlatformIdsFromTusMetadata(
      "filename " + Base64("a.mp4") + ", external_id " + Base64("order-\xC3\xA9") + ",metadata " +
      Base64(R"({"a":[1]})") + ",filetype " + Base64("video/mp4"));
  ASSERT_TRUE(both.ok()) << both.refusal->message;
  EXPECT_EQ(both.ids.external_id, "order-\xC3\xA9");
  EXPECT_EQ(both.ids.metadata, nlohmann::json({{"a", {1}}}));
  // Unpadded base64 is base64 too; a key without a value is no value.
  auto unpadded = PlatformIdsFromTusMetadata("external_id YWI");
  ASSERT_TRUE(unpadded.ok());
  EXPECT_EQ(unpadded.ids.external_id, "ab");
  EXPECT_TRUE(PlatformIdsFromTusMetadata("external_id,metadata").ok());
  EXPECT_TRUE(PlatformIdsFromTusMetadata("").ok());
  for (const char* bad : {"external_id not-base64!", "external_id YW=I", "external_id Y",
                          "external_id YWJj=", "metadata e30*"}) {
    auto check = PlatformIdsFromTusMetadata(bad);
    ASSERT_FALSE(check.ok()) << bad;
    EXPECT_EQ(check.refusal->code,
              std::string(bad).rfind("metadata", 0) == 0 ? kInvalidMetadata : kInvalidExternalId)
        << bad;
  }
}

}  // namespace
}  // namespace vidproc::http
