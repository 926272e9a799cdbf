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

std::string RawHmac(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// The media URL key derived from a token: PBKDF2-HMAC-SHA256, a fixed label as salt.
std::string DerivedKey(const std::string& token) {
  const std::string label = "vidproc media URL signing key v1";
  unsigned char key[32];
  PKCS5_PBKDF2_HMAC(token.data(), static_cast<int>(token.size()),
                    reinterpret_cast<const unsigned char*>(label.data()),
                    static_cast<int>(label.size()), 100'000, EVP_sha256(), sizeof key, key);
  return std::string(reinterpret_cast<const char*>(key), sizeof key);
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
  EXPECT_EQ(q["sig"], HexHmac(DerivedKey(kToken), path + "\n" + q["expires"]));
  // Never keyed with the token itself: a leaked URL is no cheap offline check of the token.
  EXPECT_NE(q["sig"], HexHmac(kToken, path + "\n" + q["expires"]));
}

TEST(AuthTest, AUrlSigningSecretKeysTheSignaturesInsteadOfTheToken) {
  const std::string secret = "url-signing-secret-0123456789";
  Auth auth(kToken, secret);
  const std::string path = "/api/v1/videos/abc/thumbnail";
  auto q = Query(auth.SignQuery(path, kNow));
  EXPECT_EQ(q["sig"], HexHmac(RawHmac(secret, "vidproc media URL signing key v1"),
                              path + "\n" + q["expires"]));
  EXPECT_TRUE(auth.VerifySignature(path, q["expires"], q["sig"], kNow));
  // URLs signed before the secret was set (keyed from the token) no longer verify.
  Auth before(kToken);
  auto old = Query(before.SignQuery(path, kNow));
  EXPECT_FALSE(auth.VerifySignature(path, old["expires"], old["sig"], kNow));
}

TEST(AuthTest, SignedUrlsLiveAtMostTheMaximumLifetime) {
  Auth auth(kToken, "", 7200);
  const std::string path = "/api/v1/videos/abc/video";
  // Asked for a week, signed for the maximum (rounded up to the hour).
  auto q = Query(auth.SignQuery(path, kNow, 7 * 86'400));
  EXPECT_LE(std::stoll(q["expires"]), kNow + 7200 + 3600);
  EXPECT_TRUE(auth.VerifySignature(path, q["expires"], q["sig"], kNow));
  // A validly signed URL whose expiry lies beyond the maximum (a key that leaked, a maximum
  // lowered since) is refused.
  std::string far = std::to_string(kNow + 30 * 86'400);
  std::string far_sig = HexHmac(DerivedKey(kToken), path + "\n" + far);
  EXPECT_FALSE(auth.VerifySignature(path, far, far_sig, kNow));
  Auth lenient(kToken, "", 60 * 86'400);
  EXPECT_TRUE(lenient.VerifySignature(path, far, far_sig, kNow));  // the same URL, within it
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
