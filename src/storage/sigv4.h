// AWS Signature Version 4, written from the specification ("Authenticating Requests (AWS
// Signature Version 4)") and checked against the official test vectors
// (tests/storage/sigv4_test.cc). Pure functions: no clock, no network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vidproc::storage::sigv4 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
};

struct Scope {
  std::string region;
  std::string service = "s3";
};

struct Request {
  std::string method;                                        // "GET"
  std::string path;                                          // raw path, e.g. "/bucket/a b.mp4"
  std::vector<std::pair<std::string, std::string>> query;    // raw names and values
  std::vector<std::pair<std::string, std::string>> headers;  // must include "host"
  std::string payload_sha256;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Hex(std::string_view bytes);
// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX
// (uppercase); '/' kept unless `encode_slash`.
std::string UriEncode(std::string_view s, bool encode_slash);
// "20150830T123600Z" for a Unix time.
std::string AmzDate(int64_t unix_seconds);

// The canonical request; `signed_headers` receives "host;x-amz-date".
std::string CanonicalRequest(const Request& request, std::string* signed_headers);
std::string StringToSign(const std::string& canonical_request, const Scope& scope,
                         const std::string& amz_date);
// The value of the Authorization header. `amz_date` must equal the request's x-amz-date.
std::string Authorization(const Request& request, const Credentials& credentials,
                          const Scope& scope, const std::string& amz_date);
// The query string of a presigned URL (signing only "host", payload UNSIGNED-PAYLOAD), ready to
// append after '?': the request's own query plus the X-Amz-* parameters and the signature.
std::string PresignQuery(Request request, const Credentials& credentials, const Scope& scope,
                         const std::string& amz_date, int64_t expires_seconds);

// Incremental digests, for hashing files without loading them.
class StreamingDigest {
 public:
  enum class Algorithm { kSha256, kMd5 };
  explicit StreamingDigest(Algorithm algorithm);
  ~StreamingDigest();
  StreamingDigest(const StreamingDigest&) = delete;
  StreamingDigest& operator=(const StreamingDigest&) = delete;
  void Update(const void* data, size_t size);
  // Raw digest bytes; the object is finished afterwards.
  std::string Digest();
  std::string HexDigest() { return Hex(Digest()); }

 private:
  void* ctx_;  // EVP_MD_CTX
};

class Sha256 : public StreamingDigest {
 public:
  Sha256() : StreamingDigest(Algorithm::kSha256) {}
};

class Md5Stream : public StreamingDigest {
 public:
  Md5Stream() : StreamingDigest(Algorithm::kMd5) {}
};

std::string Base64(std::string_view bytes);
// Raw MD5 of `data` (for Content-MD5).
std::string Md5(std::string_view data);

}  // namespace vidproc::storage::sigv4
