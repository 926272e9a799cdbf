// Helpers of the HTTP API tests: `vidproc serve` (or any `vidproc` command) as a child process in a
// fresh temporary directory, a small libcurl client, raw sockets for what curl will not send
// (cut bodies, huge headers), and a Server-Sent Events reader on a thread.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace vidproc::http::testing {

using namespace std::chrono_literals;

inline std::string Bin() { return VIDPROC_BIN_PATH; }
inline std::string Fixture(const std::string& name) {
  return std::string(VIDPROC_FIXTURES_PATH) + "/" + name;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

inline std::string MakeTempDir() {
  char templ[] = "/tmp/vidproc-http-XXXXXX";
  const char* dir = mkdtemp(templ);
  return dir ? dir : "";
}

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

// ---------------------------------------------------------------------------------------------
// Child processes.

// A `vidproc` command run in its own temporary directory (its cwd, so no .env of the caller's
// leaks in), with a clean environment: none of the caller's VIDPROC_*, WEBHOOK_*, SPACES_* or
// other settings, only `env`. Output goes to DIR/<name>.log.
class ChildProcess {
 public:
  ChildProcess(const std::string& dir, const std::string& name, std::vector<std::string> args,
               const std::vector<std::pair<std::string, std::string>>& env)
      : log_path_(dir + "/" + name + ".log") {
    std::vector<std::string> argv_strings = {Bin()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      std::string key = kv.substr(0, kv.find('='));
      if (key.rfind("VIDPROC_", 0) == 0 || key.rfind("WEBHOOK_", 0) == 0 ||
          key.rfind("SPACES_", 0) == 0 || key == "MAX_UPLOAD_BYTES" || key == "DATABASE_URL" ||
          key == "USE_SPACES" || key == "MAX_VIDEO_PROCESSING_TASKS" ||
          key == "VIDEO_PROCESSING_TIMEOUT") {
        continue;
      }
      env_strings.push_back(kv);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    pid_ = fork();
    if (pid_ == 0) {
      int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
      if (chdir(dir.c_str()) != 0) _exit(127);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
  }
  ~ChildProcess() {
    if (running()) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }
  // The process exited by itself (a failed start): its wait status.
  bool Exited() {
    if (!running()) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      return true;
    }
    return false;
  }
  // SIGTERM, then waits up to `timeout`: the exit code, -1 if it had to be killed or died of a
  // signal.
  int Stop(std::chrono::milliseconds timeout = 30s) {
    if (exit_status_) return WIFEXITED(*exit_status_) ? WEXITSTATUS(*exit_status_) : -1;
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout, 20ms);
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      exit_status_ = status;
      return -1;
    }
    exit_status_ = status;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Log() const { return ReadFile(log_path_); }
  std::string LogTail(size_t bytes = 4000) const {
    std::string log = Log();
    return log.size() > bytes ? log.substr(log.size() - bytes) : log;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

struct ServeOptions {
  int workers = 0;
  std::vector<std::pair<std::string, std::string>> env;
};

// `vidproc serve --listen 127.0.0.1:0 --port-file F --data-dir D --workers N` in a fresh
// temporary directory; the constructor returns once /healthz answers (check ok()).
class ServeProcess {
 public:
  explicit ServeProcess(const ServeOptions& options) : dir_(MakeTempDir()) {
    data_dir_ = dir_ + "/data";
    const std::string port_file = dir_ + "/port";
    child_ = std::make_unique<ChildProcess>(
        dir_, "serve",
        std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--port-file", port_file,
                                 "--data-dir", data_dir_, "--workers",
                                 std::to_string(options.workers)},
        options.env);
    bool listening = WaitUntil(
        [&] {
          if (child_->Exited()) return true;
          std::ifstream in(port_file);
          return static_cast<bool>(in >> port_);
        },
        30s);
    if (!listening || child_->Exited()) {
      error_ = "vidproc serve did not write its port:\n" + child_->LogTail();
      return;
    }
    if (!WaitUntil([&] { return Healthy(); }, 30s)) {
      error_ = "/healthz never answered 200:\n" + child_->LogTail();
      return;
    }
    ok_ = true;
  }
  ~ServeProcess() {
    child_.reset();
    if (!dir_.empty() && !std::getenv("VIDPROC_KEEP_TEST_DIRS")) {
      std::system(("rm -rf '" + dir_ + "'").c_str());
    }
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  pid_t pid() const { return child_->pid(); }
  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Where the local blob store keeps a video's files.
  std::string BlobDir(const std::string& id) const {
    return data_dir_ + "/storage/blobs/videos/" + id;
  }
  std::string Log() const { return child_->Log(); }
  std::string LogTail() const { return child_->LogTail(); }
  int Stop() { return child_->Stop(); }

 private:
  bool Healthy() const;

  std::string dir_;
  std::string data_dir_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  bool ok_ = false;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// libcurl.

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

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::optional<std::string> body;
  std::vector<MimeField> form;  // multipart/form-data when not empty
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

inline bool ServeProcess::Healthy() const {
  Request request;
  request.url = Url("/healthz");
  request.timeout_s = 5;
  return Perform(request).status == 200;
}

// ---------------------------------------------------------------------------------------------
// Raw sockets.

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  // Writes all of `data`; false if the peer closed or reset the connection.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // True if something (or an EOF) is waiting to be read within `timeout`.
  bool Readable(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }
  // Reads until the peer closes (*closed = true), an error, or `timeout` passes.
  std::string ReadUntilClosed(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    if (closed) *closed = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !Readable(left)) break;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until the end of a response's header block (or close, or timeout).
  std::string ReadHead(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.find("\r\n\r\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !Readable(left)) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The status code of a raw response ("HTTP/1.1 431 ..."), 0 if there is none.
inline int RawStatus(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events.

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

// ---------------------------------------------------------------------------------------------
// Prometheus text.

// "name{labels}" (as written) to value, for every sample line.
inline std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

}  // namespace vidproc::http::testing
