#include "storage/http_client.h"

#include "core/redact.h"
#include "storage/curl_handles.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace vidproc::storage {
namespace {

struct Transfer {
  // Upload side.
  const std::string* body = nullptr;
  size_t body_pos = 0;
  FILE* in = nullptr;
  int64_t in_remaining = 0;
  // Download side.
  FILE* out = nullptr;
  bool out_failed = false;
  HttpResponse* response = nullptr;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = size * count;
  if (t->in) {
    want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(want), t->in_remaining));
    size_t got = want ? std::fread(buffer, 1, want, t->in) : 0;
    t->in_remaining -= static_cast<int64_t>(got);
    if (got < want) return CURL_READFUNC_ABORT;  // the file shrank under us
    return got;
  }
  size_t left = t->body->size() - t->body_pos;
  size_t n = std::min(want, left);
  std::memcpy(buffer, t->body->data() + t->body_pos, n);
  t->body_pos += n;
  return n;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->out) {
    if (std::fwrite(data, 1, n, t->out) != n) {
      t->out_failed = true;
      return 0;
    }
    return n;
  }
  t->response->body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string line(data, n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    t->response->headers[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return n;
}

int CheckCancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

}  // namespace

HttpClient::HttpClient() {
  EnsureCurlGlobal();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpResponse> HttpClient::Perform(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) return Status(ErrorCode::kInternal, "Cannot initialise libcurl.");
  curl_easy_reset(curl);
  HttpResponse response;
  Transfer t;
  t.response = &response;

  FilePtr in;
  FilePtr out;
  int64_t upload_size = -1;
  if (!request.body_file.empty()) {
    in.reset(std::fopen(request.body_file.c_str(), "rb"));
    if (!in) {
      return Status(ErrorCode::kInputReadFailed,
                    "Cannot read " + request.body_file + ": " + std::strerror(errno));
    }
    if (std::fseek(in.get(), static_cast<long>(request.body_offset), SEEK_SET) != 0) {
      return Status(ErrorCode::kInputReadFailed, "Cannot seek in " + request.body_file);
    }
    t.in = in.get();
    t.in_remaining = request.body_length;
    upload_size = request.body_length;
  } else if (request.method == "PUT" || request.method == "POST") {
    t.body = &request.body;
    upload_size = static_cast<int64_t>(request.body.size());
  }
  if (!request.response_file.empty()) {
    out.reset(std::fopen(request.response_file.c_str(), "wb"));
    if (!out) {
      return Status(ErrorCode::kStorageUnavailable,
                    "Cannot write " + request.response_file + ": " + std::strerror(errno));
    }
    t.out = out.get();
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers) {
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
  }
  // libcurl would otherwise add "Expect: 100-continue" and a default Content-Type.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  std::unique_ptr<curl_slist, SlistDeleter> connect_to;
  if (!request.connect_to.empty()) {
    connect_to.reset(curl_slist_append(nullptr, ("::" + request.connect_to).c_str()));
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to.get());
  }

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (request.cancel) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, CheckCancel);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(request.cancel));
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    if (rc == CURLE_ABORTED_BY_CALLBACK && request.cancel && request.cancel->load()) {
      return Status(ErrorCode::kCancelled,
                    request.method + " " + MaskUrlCredentials(request.url) + " was cancelled.");
    }
    if (t.out_failed) {
      return Status(ErrorCode::kStorageFull,
                    "Cannot write " + request.response_file + " (disk full?).");
    }
    return Status(ErrorCode::kStorageUnavailable, request.method + " " +
                                                      MaskUrlCredentials(request.url) +
                                                      " failed: " + curl_easy_strerror(rc) + ".");
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  if (out && std::fflush(out.get()) != 0) {
    return Status(ErrorCode::kStorageFull, "Cannot write " + request.response_file + ".");
  }
  return response;
}

}  // namespace vidproc::storage
