#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>

namespace vidproc::http {
namespace {

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

// Compares without an early exit, so the time taken says nothing about where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string Auth::Mac(std::string_view message) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), token_.data(), static_cast<int>(token_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return Hex(digest, length);
}

bool Auth::Allows(std::string_view authorization) const {
  if (!enabled()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  std::string_view given = authorization.substr(kScheme.size());
  // Compare MACs of equal length: neither the token's length nor its content leaks by timing.
  return ConstantTimeEquals(Mac(std::string("token:") + std::string(given)),
                            Mac(std::string("token:") + token_)) &&
         authorization.substr(0, kScheme.size()) == kScheme;
}

std::string Auth::SignQuery(std::string_view path, int64_t now_s, int64_t ttl_s) const {
  if (!enabled()) return "";
  int64_t expires = (now_s + ttl_s + 3599) / 3600 * 3600;
  std::string t = std::to_string(expires);
  return "?expires=" + t + "&sig=" + Mac(std::string(path) + "\n" + t);
}

bool Auth::VerifySignature(std::string_view path, std::string_view expires, std::string_view sig,
                           int64_t now_s) const {
  if (!enabled()) return true;
  if (expires.empty() || expires.size() > 12) return false;
  int64_t t = 0;
  for (char c : expires) {
    if (c < '0' || c > '9') return false;
    t = t * 10 + (c - '0');
  }
  if (t < now_s) return false;
  return ConstantTimeEquals(Mac(std::string(path) + "\n" + std::string(expires)), sig);
}

}  // namespace vidproc::http
