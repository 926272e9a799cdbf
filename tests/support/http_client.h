// The tests' one HTTP client, on libcurl: a request and its whole response (Perform, Http), and
// a Server-Sent Events stream read on a thread (SseClient). Headers come back with lower-case
// names, the last value of each.
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace vidproc::testing {

using namespace std::chrono_literals;

// Polls `done` every `step` until it is true or `timeout` has passed; true if it became true.
inline bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds step = 50ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

inline std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Response {
  long status = 0;
  CURLcode curl = CURLE_OK;
  std::map<std::string, std::string> headers;  // lowercase names; the last value of each
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(Lower(name));
    return it == headers.end() ? "" : it->second;
  }
  bool has_header(const std::string& name) const { return headers.count(Lower(name)) > 0; }
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string ErrorCode() const {
    auto j = Json();
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("code") && j["error"]["code"].is_string()) {
      return j["error"]["code"].get<std::string>();
    }
    return "";
  }
};

inline std::ostream& operator<<(std::ostream& out, const Response& r) {
  out << "HTTP " << r.status;
  if (r.curl != CURLE_OK) out << " (curl: " << curl_easy_strerror(r.curl) << ")";
  return out << " " << r.body.substr(0, 500);
}

struct MimeField {
  std::string name;
  std::string value;         // for a text field
  std::string file_path;     // for a file field: its bytes
  std::string file_name;     // the filename parameter
  std::string content_type;  // of a file field
};

// Every member has an initializer, so designated initializers may name only what they set.
struct Request {
  std::string method = "GET";
  std::string url{};
  std::vector<std::string> headers{};  // "Name: value"
  std::optional<std::string> body{};
  std::vector<MimeField> form{};  // multipart/form-data when not empty
  long timeout_s = 60;
};

namespace detail {

inline void InitCurl() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

inline size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

inline size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();  // a new response (after 100 Continue)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    size_t v = line.find_first_not_of(' ', colon + 1);
    r->headers[Lower(line.substr(0, colon))] = v == std::string::npos ? "" : line.substr(v);
  }
  return size * n;
}

}  // namespace detail

inline Response Perform(const Request& request) {
  detail::InitCurl();
  Response r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_s);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, detail::AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, detail::CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_mime* mime = nullptr;
  if (!request.form.empty()) {
    mime = curl_mime_init(curl);
    for (const auto& field : request.form) {
      curl_mimepart* part = curl_mime_addpart(mime);
      curl_mime_name(part, field.name.c_str());
      if (!field.file_path.empty()) {
        curl_mime_filedata(part, field.file_path.c_str());
        curl_mime_filename(part, field.file_name.c_str());
        if (!field.content_type.empty()) curl_mime_type(part, field.content_type.c_str());
      } else {
        curl_mime_data(part, field.value.data(), field.value.size());
      }
    }
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  } else if (request.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" && !request.body && request.form.empty()) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
  } else if (request.method != "GET" || request.body) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  r.curl = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  if (mime) curl_mime_free(mime);
  curl_easy_cleanup(curl);
  return r;
}

// One request: `method` to `url` with "Name: value" headers and, unless nullopt, a body. curl's
// "Expect: 100-continue" is left out (one round trip fewer); send the header to get it.
inline Response Http(const std::string& method, const std::string& url,
                     std::vector<std::string> headers = {},
                     std::optional<std::string> body = std::nullopt) {
  Request request;
  request.method = method;
  request.url = url;
  request.headers = std::move(headers);
  request.headers.push_back("Expect:");
  request.body = std::move(body);
  return Perform(request);
}

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
  nlohmann::json Json() const { return nlohmann::json::parse(data, nullptr, false); }
};

// GET `url` as an event stream on a thread; frames are parsed as they arrive.
class SseClient {
 public:
  SseClient(const std::string& url, std::vector<std::string> headers = {})
      : url_(url), headers_(std::move(headers)) {
    detail::InitCurl();
    thread_ = std::thread([this] { Run(); });
  }
  ~SseClient() { Close(); }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  void Close() {
    stop_ = true;
    {
      std::lock_guard lock(mutex_);
      if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);  // curl sees the end at once
    }
    if (thread_.joinable()) thread_.join();
  }
  std::vector<SseEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::string raw() {
    std::lock_guard lock(mutex_);
    return raw_;
  }
  // The response's headers so far; its status and curl result once the stream ended.
  Response response() {
    std::lock_guard lock(mutex_);
    return response_;
  }
  bool ended() {
    std::lock_guard lock(mutex_);
    return done_;
  }
  // Waits until `done(events)` holds.
  bool WaitFor(const std::function<bool(const std::vector<SseEvent>&)>& done,
               std::chrono::milliseconds timeout) {
    return WaitUntil([&] { return done(events()); }, timeout, 20ms);
  }
  // Waits until the stream's first bytes arrived (the server subscribed this client).
  bool WaitConnected(std::chrono::milliseconds timeout = 10s) {
    return WaitUntil([&] { return raw().find(": connected") != std::string::npos; }, timeout, 20ms);
  }

 private:
  static size_t Write(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    std::lock_guard lock(self->mutex_);
    self->raw_.append(data, size * n);
    self->pending_.append(data, size * n);
    size_t end;
    while ((end = self->pending_.find("\n\n")) != std::string::npos) {
      std::string frame = self->pending_.substr(0, end);
      self->pending_.erase(0, end + 2);
      SseEvent e;
      std::istringstream lines(frame);
      std::string line;
      bool any = false;
      while (std::getline(lines, line)) {
        if (line.rfind("id: ", 0) == 0) e.id = line.substr(4), any = true;
        if (line.rfind("event: ", 0) == 0) e.event = line.substr(7), any = true;
        if (line.rfind("data: ", 0) == 0) e.data += line.substr(6), any = true;
      }
      if (any && !e.event.empty()) self->events_.push_back(e);
    }
    return self->stop_ ? 0 : size * n;
  }
  static curl_socket_t Open(void* user, curlsocktype, curl_sockaddr* address) {
    auto* self = static_cast<SseClient*>(user);
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    std::lock_guard lock(self->mutex_);
    self->socket_ = fd;
    return fd;
  }
  static size_t Header(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    std::lock_guard lock(self->mutex_);
    return detail::CollectHeader(data, size, n, &self->response_);
  }
  static int CloseSocket(void* user, curl_socket_t fd) {
    auto* self = static_cast<SseClient*>(user);
    std::lock_guard lock(self->mutex_);
    if (self->socket_ == fd) self->socket_ = -1;
    return ::close(fd);
  }
  static int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<SseClient*>(user)->stop_ ? 1 : 0;
  }
  void Run() {
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, Open);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(curl, CURLOPT_CLOSESOCKETFUNCTION, CloseSocket);
    curl_easy_setopt(curl, CURLOPT_CLOSESOCKETDATA, this);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_slist* headers = nullptr;
    for (const auto& h : headers_) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    {
      std::lock_guard lock(mutex_);
      response_.status = status;
      response_.curl = code;
      done_ = true;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }

  const std::string url_;
  const std::vector<std::string> headers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  int socket_ = -1;
  bool done_ = false;
  std::string raw_;
  std::string pending_;
  std::vector<SseEvent> events_;
  Response response_;
};

}  // namespace vidproc::testing
