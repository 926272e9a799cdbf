#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include <cstdint>

#include "core/units.h"
#include "storage/sigv4.h"

namespace vidproc::http {
namespace {

// Compares without an early exit, so the time taken says nothing about where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

namespace {

constexpr char kUrlKeyLabel[] = "vidproc media URL signing key v1";
constexpr int kUrlKeyRounds = 100'000;
constexpr int64_t kExpiryRoundingS = 3600;

}  // namespace

Auth::Auth(std::string token, const std::string& url_secret, int64_t max_url_ttl_s)
    : token_(std::move(token)),
      url_key_(token_.empty() ? "" : UrlSigningKey(token_, url_secret)),
      max_url_ttl_s_(max_url_ttl_s) {}

std::string Auth::UrlSigningKey(const std::string& token, const std::string& url_secret) {
  if (!url_secret.empty()) return storage::sigv4::HmacSha256(url_secret, kUrlKeyLabel);
  unsigned char key[32];
  PKCS5_PBKDF2_HMAC(token.data(), static_cast<int>(token.size()),
                    reinterpret_cast<const unsigned char*>(kUrlKeyLabel), sizeof kUrlKeyLabel - 1,
                    kUrlKeyRounds, EVP_sha256(), sizeof key, key);
  return std::string(reinterpret_cast<const char*>(key), sizeof key);
}

std::string Auth::UrlMac(std::string_view message) const {
  return storage::sigv4::Hex(storage::sigv4::HmacSha256(url_key_, message));
}

std::string Auth::Mac(std::string_view message) const {
  return storage::sigv4::Hex(storage::sigv4::HmacSha256(token_, message));
}

bool Auth::Allows(std::string_view authorization) const {
  if (!enabled()) return true;
  // The scheme is case-insensitive (RFC 9110 11.1): "bearer" and "BEARER" are "Bearer".
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  bool scheme_matches = true;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    scheme_matches = scheme_matches && (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) == kScheme[i];
  }
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  // Compare MACs of equal length: neither the token's length nor its content leaks by timing.
  return ConstantTimeEquals(Mac(std::string("token:") + std::string(given)),
                            Mac(std::string("token:") + token_)) &&
         scheme_matches;
}

std::string Auth::SignQuery(std::string_view path, int64_t now_s, int64_t ttl_s) const {
  if (!enabled()) return "";
  ttl_s = std::min(ttl_s, max_url_ttl_s_);
  int64_t expires = (now_s + ttl_s + kExpiryRoundingS - 1) / kExpiryRoundingS * kExpiryRoundingS;
  std::string t = std::to_string(expires);
  return "?expires=" + t + "&sig=" + UrlMac(std::string(path) + "\n" + t);
}

bool Auth::VerifySignature(std::string_view path, std::string_view expires, std::string_view sig,
                           int64_t now_s) const {
  if (!enabled()) return true;
  auto t = ParseInteger(expires, 0, INT64_MAX);
  if (!t.ok() || t.value() < now_s) return false;
  if (t.value() - now_s > max_url_ttl_s_ + kExpiryRoundingS) return false;  // beyond the maximum
  return ConstantTimeEquals(UrlMac(std::string(path) + "\n" + std::string(expires)), sig);
}

}  // namespace vidproc::http
