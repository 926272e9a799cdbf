// Who may call the API: a bearer token compared in constant time, and media URLs signed with
// that token so that <video src> and <img src> (which cannot send a header) work without putting
// the token itself in a URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vidproc::http {

class Auth {
 public:
  // Media URLs are signed with a key derived from `url_secret` when one is set, else from the
  // token (never with the token itself), and live at most `max_url_ttl_s` seconds.
  explicit Auth(std::string token, const std::string& url_secret = "",
                int64_t max_url_ttl_s = kDefaultMaxUrlTtlS);
  static constexpr int64_t kDefaultMaxUrlTtlS = 86'400;
  // The key of media URL signatures: PBKDF2-HMAC-SHA256 of the token with a fixed label as salt
  // (100,000 rounds: a leaked URL makes every guess of the token cost that much), or
  // HMAC-SHA256(url_secret, label) when a separate, random secret is configured.
  static std::string UrlSigningKey(const std::string& token, const std::string& url_secret);

  bool enabled() const { return !token_.empty(); }
  // The Authorization header value is "Bearer <token>". Always true when auth is off.
  bool Allows(std::string_view authorization) const;
  // "?expires=T&sig=S" for `path`, valid until at least `now_s + ttl_s` (T is rounded up to the
  // hour so the URL, and the browser's cache of it, stay the same for an hour). "" when off.
  // `ttl_s` is capped at the maximum lifetime; a signature whose expiry lies further ahead than
  // that (plus the hour of rounding) is refused, whoever made it.
  std::string SignQuery(std::string_view path, int64_t now_s, int64_t ttl_s = 86'400) const;
  bool VerifySignature(std::string_view path, std::string_view expires, std::string_view sig,
                       int64_t now_s) const;

 private:
  std::string Mac(std::string_view message) const;
  std::string UrlMac(std::string_view message) const;
  std::string token_;
  std::string url_key_;
  int64_t max_url_ttl_s_;
};

}  // namespace vidproc::http
