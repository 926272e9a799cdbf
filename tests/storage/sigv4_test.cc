// AWS Signature Version 4 against the official vectors: the SigV4 test suite (service
// "service", us-east-1, 2015-08-30T12:36:00Z) and the Amazon S3 API Reference's worked examples.
#include "storage/sigv4.h"

#include <gtest/gtest.h>

namespace vidproc::storage::sigv4 {
namespace {

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
const Scope kSuiteScope{"us-east-1", "service"};
const std::string kSuiteDate = "20150830T123600Z";
const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Request SuiteRequest(const std::string& method) {
  Request r;
  r.method = method;
  r.path = "/";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  r.payload_sha256 = kEmptySha;
  return r;
}

TEST(SigV4Test, SuiteGetVanilla) {
  EXPECT_EQ(Authorization(SuiteRequest("GET"), kSuite, kSuiteScope, kSuiteDate),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, SuiteStringToSign) {
  std::string signed_headers;
  std::string canonical = CanonicalRequest(SuiteRequest("GET"), &signed_headers);
  EXPECT_EQ(canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                kEmptySha);
  EXPECT_EQ(StringToSign(canonical, kSuiteScope, kSuiteDate),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

TEST(SigV4Test, SuiteQueryOrderKeyCase) {
  Request r = SuiteRequest("GET");
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  EXPECT_NE(Authorization(r, kSuite, kSuiteScope, kSuiteDate)
                .find("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            std::string::npos);
}

TEST(SigV4Test, SuitePostVanilla) {
  EXPECT_NE(Authorization(SuiteRequest("POST"), kSuite, kSuiteScope, kSuiteDate)
                .find("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            std::string::npos);
}

const Credentials kS3{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
const Scope kS3Scope{"us-east-1", "s3"};

// S3 API Reference, "Example: GET Object": the first 10 bytes of test.txt.
TEST(SigV4Test, S3GetObjectWithRange) {
  Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_sha256 = kEmptySha;
  std::string signed_headers;
  std::string canonical = CanonicalRequest(r, &signed_headers);
  EXPECT_EQ(signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(Sha256Hex(canonical),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(Authorization(r, kS3, kS3Scope, "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// S3 API Reference, "Example: Presigned URL" (GET test.txt, valid 24 hours).
TEST(SigV4Test, S3PresignedUrl) {
  Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  std::string query = PresignQuery(r, kS3, kS3Scope, "20130524T000000Z", 86400);
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
            "X-Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Test, UriEncoding) {
  EXPECT_EQ(UriEncode("a b/c~d_e-f.g", false), "a%20b/c~d_e-f.g");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("€", true), "%E2%82%AC");
  EXPECT_EQ(UriEncode("x=1&y", true), "x%3D1%26y");
}

TEST(SigV4Test, HashingHelpers) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha);
  Sha256 incremental;
  incremental.Update("Welcome to ", 11);
  incremental.Update("Amazon S3.", 10);
  EXPECT_EQ(incremental.HexDigest(), Sha256Hex("Welcome to Amazon S3."));
  EXPECT_EQ(Base64(Md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
}

}  // namespace
}  // namespace vidproc::storage::sigv4
