// A minimal blocking HTTP/1.1 client over libcurl for the S3 store: one easy handle per client
// (connections are reused between requests), TLS verification on, bodies streamed from a file
// range or a string, responses streamed to a file or kept in memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::storage {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body: `body` in memory, or `body_file` from `body_offset` for `body_length` bytes.
  std::string body;
  std::string body_file;
  int64_t body_offset = 0;
  int64_t body_length = -1;
  // The response body goes to `response_file` (truncated first) when set, else to memory.
  std::string response_file;
  // Connect to this "host:port" instead of what the URL names (tests of virtual-host style).
  std::string connect_to;
  int64_t timeout_ms = 300'000;
  // When set, the transfer stops (kCancelled) soon after this becomes true: a shutdown does not
  // wait for a slow peer.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // empty when streamed to a file
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Transport failures (DNS, connect, TLS, timeouts, write errors) are kStorageUnavailable;
  // any HTTP status is a successful exchange and is returned for the caller to judge.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  void* curl_;  // CURL*
};

}  // namespace vidproc::storage
