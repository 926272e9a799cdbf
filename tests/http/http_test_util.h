// Helpers of the HTTP API tests: `vidproc serve` (or any `vidproc` command) as a child process in a
// fresh temporary directory, raw sockets for what curl will not send (cut bodies, huge headers),
// and Prometheus text; the HTTP client itself is support/http_client.h.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
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

#include "support/http_client.h"

extern char** environ;

namespace vidproc::http::testing {

using namespace std::chrono_literals;
using vidproc::testing::Http;
using vidproc::testing::Lower;
using vidproc::testing::MimeField;
using vidproc::testing::Perform;
using vidproc::testing::Request;
using vidproc::testing::Response;
using vidproc::testing::SseClient;
using vidproc::testing::SseEvent;
using vidproc::testing::WaitUntil;

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

// ---------------------------------------------------------------------------------------------
// Child processes.

// A `vidproc` command run in its own temporary directory (its cwd, so no .env of the caller's
// leaks in), with a clean environment: none of the caller's VIDPROC_*, WEBHOOK_*, SPACES_* or
// other settings, only `env`. Output goes to DIR/<name>.log. `file_limit` > 0 sets the child's
// RLIMIT_NOFILE, soft and hard (a machine with few descriptors).
class ChildProcess {
 public:
  ChildProcess(const std::string& dir, const std::string& name, std::vector<std::string> args,
               const std::vector<std::pair<std::string, std::string>>& env, rlim_t file_limit = 0)
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
      if (file_limit > 0) {
        rlimit limit{file_limit, file_limit};
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(127);
      }
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
  rlim_t file_limit = 0;  // RLIMIT_NOFILE of the server (0: the test's)
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
        options.env, options.file_limit);
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
// Encodings clients apply: percent-encoding (RFC 3986 unreserved kept) and base64 (tus values).

inline std::string PercentEncode(const std::string& bytes) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

inline std::string Base64(const std::string& bytes) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kChars[(n >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out = out + kChars[(n >> 18) & 63] + kChars[(n >> 12) & 63] + "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out = out + kChars[(n >> 18) & 63] + kChars[(n >> 12) & 63] + kChars[(n >> 6) & 63] + "=";
  }
  return out;
}

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

// One `vidproc serve` per test suite, started with the suite's options (CRTP: Suite::Options()).
// A test fails at once when the server did not start; the suite's end stops it with SIGTERM and
// expects a clean exit.
template <typename Suite>
class OneServerPerSuite : public ::testing::Test {
 public:
  static void SetUpTestSuite() { server_ = std::make_unique<ServeProcess>(Suite::Options()); }
  static void TearDownTestSuite() {
    if (server_ && server_->ok()) {
      EXPECT_EQ(server_->Stop(), 0) << "vidproc serve did not exit cleanly on SIGTERM:\n"
                                    << server_->LogTail();
    }
    server_.reset();
  }

 protected:
  void SetUp() override {
    ASSERT_TRUE(server_ && server_->ok()) << (server_ ? server_->error() : "no server");
  }
  static ServeProcess& server() { return *server_; }
  // `headers` with the suite's token (Suite::Token(), "" for none) as the Authorization header.
  static std::vector<std::string> WithAuth(std::vector<std::string> headers = {}) {
    if (!Suite::Token().empty()) headers.push_back("Authorization: Bearer " + Suite::Token());
    return headers;
  }
  // A request to `path` on the server, with the suite's token.
  static Response Call(const std::string& method, const std::string& path,
                       std::vector<std::string> headers = {},
                       std::optional<std::string> body = std::nullopt) {
    return Perform({.method = method,
                    .url = server().Url(path),
                    .headers = WithAuth(std::move(headers)),
                    .body = std::move(body)});
  }

 private:
  static inline std::unique_ptr<ServeProcess> server_;
};

}  // namespace vidproc::http::testing
