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
  explicit Auth(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }
  // The Authorization header value is "Bearer <token>". Always true when auth is off.
  bool Allows(std::string_view authorization) const;
  // "?expires=T&sig=S" for `path`, valid until at least `now_s + ttl_s` (T is rounded up to the
  // hour so the URL, and the browser's cache of it, stay the same for an hour). "" when off.
  std::string SignQuery(std::string_view path, int64_t now_s, int64_t ttl_s = 86'400) const;
  bool VerifySignature(std::string_view path, std::string_view expires, std::string_view sig,
                       int64_t now_s) const;

 private:
  std::string Mac(std::string_view message) const;
  std::string token_;
};

}  // namespace vidproc::http
