// Auth: the bearer token check and signed media URLs, verified against an HMAC computed here with
// OpenSSL (not with the code under test).
#include "http/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <map>
#include <string>

namespace vidproc::http {
namespace {

constexpr char kToken[] = "s3cret-token-0123456789";
constexpr int64_t kNow = 1'767'268'800;  // 2026-01-01T12:00:00Z

std::string HexHmac(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", mac[i]);
    hex += two;
  }
  return hex;
}

// "?expires=T&sig=S" into {expires: T, sig: S}.
std::map<std::string, std::string> Query(const std::string& q) {
  std::map<std::string, std::string> out;
  EXPECT_EQ(q.rfind('?', 0), 0u) << q;
  size_t start = 1;
  while (start < q.size()) {
    size_t amp = q.find('&', start);
    if (amp == std::string::npos) amp = q.size();
    std::string pair = q.substr(start, amp - start);
    size_t eq = pair.find('=');
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
    start = amp + 1;
  }
  return out;
}

TEST(AuthTest, DisabledWithoutAToken) {
  Auth auth("");
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Allows(""));
  EXPECT_TRUE(auth.Allows("Bearer whatever"));
  EXPECT_EQ(auth.SignQuery("/api/v1/videos/x/video", kNow), "");
  EXPECT_TRUE(auth.VerifySignature("/api/v1/videos/x/video", "", "", kNow));
}

TEST(AuthTest, BearerTokenMustMatchExactly) {
  Auth auth(kToken);
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.Allows(std::string("Bearer ") + kToken));
  EXPECT_FALSE(auth.Allows(""));
  EXPECT_FALSE(auth.Allows("Bearer "));
  EXPECT_FALSE(auth.Allows("Bearer wrong-token-0123456789"));
  EXPECT_FALSE(auth.Allows(std::string("Bearer ") + kToken + "x"));             // longer
  EXPECT_FALSE(auth.Allows(std::string("Bearer ") + std::string(kToken, 10)));  // a prefix
  EXPECT_FALSE(auth.Allows(std::string("Basic ") + kToken));                    // other scheme
  EXPECT_FALSE(auth.Allows(std::string("Token  ") + kToken));
  EXPECT_FALSE(auth.Allows(kToken));  // no scheme
}

TEST(AuthTest, BearerSchemeIsCaseInsensitive) {
  Auth auth(kToken);
  auto with = [](std::string value, std::string_view credentials) {
    value.append(credentials);
    return value;
  };
  for (const char* scheme : {"bearer ", "BEARER ", "bEaReR ", "Bearer  "}) {
    EXPECT_TRUE(auth.Allows(with(scheme, kToken))) << scheme;
    EXPECT_FALSE(auth.Allows(with(scheme, "wrong-token-0123456789"))) << scheme;
  }
  EXPECT_FALSE(auth.Allows(with("Bearer_", kToken)));
  EXPECT_FALSE(auth.Allows(with("Bearers ", kToken)));
}

TEST(AuthTest, SignedUrlIsAnHmacOfPathAndExpiry) {
  Auth auth(kToken);
  const std::string path = "/api/v1/videos/abc/video";
  auto q = Query(auth.SignQuery(path, kNow, 3600));
  ASSERT_TRUE(q.count("expires") && q.count("sig"));
  int64_t expires = std::stoll(q["expires"]);
  EXPECT_GE(expires, kNow + 3600);
  EXPECT_LT(expires, kNow + 3600 + 3600);
  EXPECT_EQ(expires % 3600, 0);  // rounded to the hour: stable URLs for caches
  EXPECT_EQ(q["sig"], HexHmac(kToken, path + "\n" + q["expires"]));
}

TEST(AuthTest, SignedUrlVerifies) {
  Auth auth(kToken);
  const std::string path = "/api/v1/videos/abc/video";
  auto q = Query(auth.SignQuery(path, kNow));
  EXPECT_TRUE(auth.VerifySignature(path, q["expires"], q["sig"], kNow));
  EXPECT_TRUE(auth.VerifySignature(path, q["expires"], q["sig"], kNow + 86'400));  // still valid
  // The same URL signed a few minutes later (within the hour) is the same URL.
  EXPECT_EQ(auth.SignQuery(path, kNow + 60), auth.SignQuery(path, kNow + 600));
}

TEST(AuthTest, SignedUrlFailsOnceExpired) {
  Auth auth(kToken);
  const std::string path = "/api/v1/videos/abc/video";
  auto q = Query(auth.SignQuery(path, kNow, 60));
  const int64_t expires = std::stoll(q["expires"]);
  EXPECT_TRUE(auth.VerifySignature(path, q["expires"], q["sig"], expires));
  EXPECT_FALSE(auth.VerifySignature(path, q["expires"], q["sig"], expires + 1));
}

TEST(AuthTest, SignedUrlFailsForATamperedPathExpiryOrSignature) {
  Auth auth(kToken);
  const std::string path = "/api/v1/videos/abc/video";
  auto q = Query(auth.SignQuery(path, kNow));
  std::string sig = q["sig"];
  // Another video, or the thumbnail, with this video's signature.
  EXPECT_FALSE(auth.VerifySignature("/api/v1/videos/abd/video", q["expires"], sig, kNow));
  EXPECT_FALSE(auth.VerifySignature("/api/v1/videos/abc/thumbnail", q["expires"], sig, kNow));
  // A later expiry.
  std::string later = std::to_string(std::stoll(q["expires"]) + 3600);
  EXPECT_FALSE(auth.VerifySignature(path, later, sig, kNow));
  // A changed, shortened or missing signature.
  std::string flipped = sig;
  flipped[5] = flipped[5] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(auth.VerifySignature(path, q["expires"], flipped, kNow));
  EXPECT_FALSE(auth.VerifySignature(path, q["expires"], sig.substr(0, 32), kNow));
  EXPECT_FALSE(auth.VerifySignature(path, q["expires"], "", kNow));
  // Junk expiry values.
  EXPECT_FALSE(auth.VerifySignature(path, "", sig, kNow));
  EXPECT_FALSE(auth.VerifySignature(path, "12ab", sig, kNow));
  EXPECT_FALSE(auth.VerifySignature(path, "-1", sig, kNow));
}

TEST(AuthTest, SignatureFromAnotherTokenFails) {
  Auth ours(kToken), theirs("another-token-9876543210");
  const std::string path = "/api/v1/videos/abc/thumbnail";
  auto q = Query(theirs.SignQuery(path, kNow));
  EXPECT_FALSE(ours.VerifySignature(path, q["expires"], q["sig"], kNow));
}

}  // namespace
}  // namespace vidproc::http
