// A small blocking HTTP/1.1 receiver on 127.0.0.1 for tests of outgoing requests (webhooks):
// one connection at a time, one request per connection, answered with the status the test sets.
// Also: a free port, and the check of an X-Vidproc-Signature header with OpenSSL directly.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace vidproc::testing {

struct Received {
  std::string method;
  std::string target;                          // the request target: "/hooks", "/video.mp4?x=1"
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  int answered = 0;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking HTTP/1.1 server: one connection at a time, one request per connection, answered
// with the status set by the test (after an optional delay) and closed.
class Receiver {
 public:
  // Listens on 127.0.0.1:`port` (0: any free port).
  explicit Receiver(int port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on port " << port;
      return;
    }
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks"; }
  void set_status(int status) { status_ = status; }
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  // Answers with what `responder` returns (a whole raw response) instead of an empty status.
  void set_responder(std::function<std::string(const Received&)> responder) {
    std::lock_guard lock(mutex_);
    responder_ = std::move(responder);
  }
  std::vector<Received> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  // Requests answered with a 2xx.
  std::vector<Received> accepted() {
    std::vector<Received> ok;
    for (auto& r : requests()) {
      if (r.answered / 100 == 2) ok.push_back(r);
    }
    return ok;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      Handle(c);
      close(c);
    }
  }

  void Handle(int c) {
    std::string data;
    char buf[4096];
    size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
    }
    Received r;
    std::string head = data.substr(0, head_end);
    r.method = head.substr(0, head.find(' '));
    const size_t target_at = head.find(' ') + 1;
    r.target = head.substr(target_at, head.find(' ', target_at) - target_at);
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = next;
    }
    size_t length =
        std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length"));
    r.body = data.substr(head_end + 4);
    while (r.body.size() < length) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) return;
      r.body.append(buf, static_cast<size_t>(n));
    }
    r.answered = status_;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
    }
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    std::function<std::string(const Received&)> responder;
    {
      std::lock_guard lock(mutex_);
      responder = responder_;
    }
    std::string response = responder ? responder(r)
                                     : "HTTP/1.1 " + std::to_string(r.answered) +
                                           " Status\r\nContent-Length: 0\r\nConnection: "
                                           "close\r\n\r\n";
    for (size_t sent = 0; sent < response.size();) {
      ssize_t n = write(c, response.data() + sent, response.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{200};
  std::atomic<int> delay_ms_{0};
  std::mutex mutex_;
  std::vector<Received> requests_;
  std::function<std::string(const Received&)> responder_;
};

// A port nothing listens on (bound once to find it, then released).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Checks X-Vidproc-Signature of `r` with OpenSSL directly: "t=<s>,v1=<hex HMAC-SHA256 of
// "<s>.<body>">".
inline ::testing::AssertionResult SignedWith(const Received& r, const std::string& secret) {
  std::string sig = r.header("x-vidproc-signature");
  auto comma = sig.find(",v1=");
  if (sig.rfind("t=", 0) != 0 || comma == std::string::npos) {
    return ::testing::AssertionFailure() << "malformed signature '" << sig << "'";
  }
  std::string t = sig.substr(2, comma - 2);
  std::string v1 = sig.substr(comma + 4);
  std::string text = t + "." + r.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned int i = 0; i < len; ++i) std::snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  if (v1 != std::string(hex, 2 * len)) {
    return ::testing::AssertionFailure() << "HMAC mismatch for t=" << t;
  }
  int64_t age = static_cast<int64_t>(std::time(nullptr)) - std::stoll(t);
  if (age < -5 || age > 60) return ::testing::AssertionFailure() << "timestamp off by " << age;
  return ::testing::AssertionSuccess();
}

}  // namespace vidproc::testing
