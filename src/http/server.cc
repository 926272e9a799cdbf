#include "http/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "core/ids.h"
#include "core/log.h"
#include "core/loop_guard.h"
#include "core/text.h"
#include "core/units.h"
#include "core/version.h"
#include "http/errors.h"

namespace vidproc::http {
namespace {

using tcp = asio::ip::tcp;

std::string ToString(beast::string_view v) { return std::string(v.data(), v.size()); }

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::optional<std::string> Exchange::query(const std::string& name) const {
  return QueryValue(query_string_, name);
}

std::string Exchange::header(bhttp::field field) const {
  auto it = parser_.get().find(field);
  return it == parser_.get().end() ? std::string() : ToString(it->value());
}

std::string Exchange::header(std::string_view name) const {
  auto it = parser_.get().find(beast::string_view(name.data(), name.size()));
  return it == parser_.get().end() ? std::string() : ToString(it->value());
}

std::optional<uint64_t> Exchange::content_length() const {
  auto n = parser_.content_length();
  if (!n) return std::nullopt;
  return *n;
}

template <typename Message>
void Exchange::Decorate(Message& message, int status) {
  message.version(11);
  message.result(static_cast<unsigned>(status));
  message.set(bhttp::field::server, std::string("vidproc/") + kVersion);
  message.set("X-Request-Id", request_id_);
  message.keep_alive(keep_alive_ && parser_.get().keep_alive() && parser_.is_done());
  status_sent_ = status;
}

asio::awaitable<void> Exchange::ContinueIfExpected() {
  if (!beast::iequals(ToString(parser_.get()[bhttp::field::expect]), "100-continue")) co_return;
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  beast::error_code ec;
  stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
  co_await asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                             asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<Result<int64_t>> Exchange::StreamBody(
    std::function<Status(const char* data, size_t size)> sink, size_t chunk_size) {
  co_await ContinueIfExpected();
  // Two chunks: one is handed to `sink` on the pool while the next is read from the network,
  // so disk (or S3) and network overlap.
  std::vector<char> chunks[2] = {std::vector<char>(chunk_size), std::vector<char>(chunk_size)};
  int current = 0;
  auto& body = parser_.get().body();
  int64_t total = 0;
  // Beast reads as much as the connection's buffer has room for: at its initial size that is
  // 512 bytes a read. Room for a whole chunk while the body streams, given back afterwards.
  buffer_.reserve(chunk_size);
  struct Shrink {
    beast::flat_buffer& buffer;
    ~Shrink() { buffer.shrink_to_fit(); }
  } shrink{buffer_};
  // The chunk being sunk. Its completion is posted to this connection's strand, where this
  // coroutine runs too: `busy` is never read and written at once, and a wake-up cannot be lost.
  struct InFlight {
    bool busy = false;
    Status result;
    int64_t bytes = 0;
  };
  auto in_flight = std::make_shared<InFlight>();
  auto strand = stream_.get_executor();
  asio::steady_timer finished(strand, std::chrono::steady_clock::time_point::max());
  beast::error_code ec;
  while (true) {
    body.data = chunks[current].data();
    body.size = chunk_size;
    // Fill the chunk (one storage call per chunk, not per TCP read); each read must make progress
    // within the body timeout.
    while (!ec && body.size > 0 && !parser_.is_done()) {
      stream_.expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
      co_await bhttp::async_read_some(stream_, buffer_, parser_,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::need_buffer) ec = {};
    }
    const size_t n = chunk_size - body.size;
    while (in_flight->busy) {
      beast::error_code wait_ec;
      co_await finished.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
    }
    if (!in_flight->result.ok()) break;
    total += std::exchange(in_flight->bytes, 0);
    if (n > 0) {
      in_flight->busy = true;
      in_flight->bytes = static_cast<int64_t>(n);
      const char* data = chunks[current].data();
      asio::post(pool_, [in_flight, &sink, data, n, strand, &finished] {
        Status result = sink(data, n);
        asio::post(strand, [in_flight, result = std::move(result), &finished]() mutable {
          in_flight->result = std::move(result);
          in_flight->busy = false;
          finished.cancel();
        });
      });
      current ^= 1;
    }
    if (ec || parser_.is_done()) break;
  }
  while (in_flight->busy) {
    beast::error_code wait_ec;
    co_await finished.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
  }
  if (!in_flight->result.ok()) {
    close_after();
    co_return in_flight->result;
  }
  total += in_flight->bytes;
  if (ec) {
    close_after();
    co_return Status(ErrorCode::kInputReadFailed, "The request body ended early, after " +
                                                      std::to_string(total) + " bytes (" +
                                                      ec.message() + ").");
  }
  co_return total;
}

asio::awaitable<void> Exchange::Send(bhttp::response<bhttp::string_body> response) {
  if (status_sent_ != 0) co_return;
  Decorate(response, response.result_int());
  response.prepare_payload();
  if (method() == bhttp::verb::head) response.body().clear();  // Content-Length stays
  bytes_sent_ += static_cast<int64_t>(response.body().size());
  beast::error_code ec;
  stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
  co_await bhttp::async_write(stream_, response, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) close_after();
}

asio::awaitable<void> Exchange::SendText(int status, std::string content_type, std::string body,
                                         HeaderList headers) {
  bhttp::response<bhttp::string_body> res;
  res.result(static_cast<unsigned>(status));
  res.set(bhttp::field::content_type, content_type);
  res.set(bhttp::field::cache_control, "no-store");
  for (auto& [name, value] : headers) res.set(name, value);
  res.body() = std::move(body);
  co_await Send(std::move(res));
}

asio::awaitable<void> Exchange::SendJson(int status, const nlohmann::json& body,
                                         HeaderList headers) {
  co_await SendText(status, "application/json; charset=utf-8", DumpJson(body) + "\n",
                    std::move(headers));
}

asio::awaitable<void> Exchange::SendEmpty(int status, HeaderList headers) {
  bhttp::response<bhttp::string_body> res;
  res.result(static_cast<unsigned>(status));
  for (auto& [name, value] : headers) res.set(name, value);
  co_await Send(std::move(res));
}

asio::awaitable<void> Exchange::SendError(const Status& status) {
  co_await SendError(ToHttpError(status));
}

asio::awaitable<void> Exchange::SendError(const HttpError& error, HeaderList headers) {
  co_await SendError(error.status, error.code, error.message, std::move(headers));
}

asio::awaitable<void> Exchange::SendError(int http_status, std::string_view code,
                                          std::string_view message, HeaderList headers) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  co_await SendJson(http_status, body, std::move(headers));
}

asio::awaitable<void> Exchange::SendFile(int status, const std::string& path, int64_t offset,
                                         int64_t length, HeaderList headers) {
  if (status_sent_ != 0) co_return;
  auto open_file = [&path]() -> Result<int> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status(ErrorCode::kNotFound, "The file is not there any more.");
    return fd;
  };
  Result<int> opened = co_await Blocking(std::move(open_file));
  if (!opened.ok()) {
    co_await SendError(opened.status());
    co_return;
  }
  Fd fd(opened.value());
  bhttp::response<bhttp::buffer_body> res;
  Decorate(res, status);
  for (auto& [name, value] : headers) res.set(name, value);
  res.content_length(static_cast<uint64_t>(length));
  res.body().data = nullptr;
  res.body().more = true;
  bhttp::response_serializer<bhttp::buffer_body> serializer(res);
  beast::error_code ec;
  stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
  co_await bhttp::async_write_header(stream_, serializer,
                                     asio::redirect_error(asio::use_awaitable, ec));
  if (ec || method() == bhttp::verb::head) {
    if (ec) close_after();
    co_return;
  }
  std::vector<char> chunk(static_cast<size_t>(std::min<int64_t>(length, 256 * 1024)) + 1);
  int64_t remaining = length;
  while (remaining > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(remaining, chunk.size()));
    auto read = [&fd, &chunk, want, offset] {
      return ::pread(fd.get(), chunk.data(), want, offset);
    };
    ssize_t got = co_await Blocking(std::move(read));
    if (got <= 0) {  // the file shrank under us: the response cannot be completed
      close_after();
      co_return;
    }
    offset += got;
    remaining -= got;
    res.body().data = chunk.data();
    res.body().size = static_cast<size_t>(got);
    res.body().more = remaining > 0;
    stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
    co_await bhttp::async_write(stream_, serializer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      close_after();
      co_return;
    }
    bytes_sent_ += got;
  }
}

asio::awaitable<bool> Exchange::StartStream(int status, std::string content_type,
                                            HeaderList headers) {
  stream_response_ = std::make_unique<bhttp::response<bhttp::buffer_body>>();
  auto& res = *stream_response_;
  Decorate(res, status);
  res.set(bhttp::field::content_type, content_type);
  for (auto& [name, value] : headers) res.set(name, value);
  res.chunked(true);
  res.body().data = nullptr;
  res.body().more = true;
  stream_serializer_ = std::make_unique<bhttp::response_serializer<bhttp::buffer_body>>(res);
  beast::error_code ec;
  stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
  co_await bhttp::async_write_header(stream_, *stream_serializer_,
                                     asio::redirect_error(asio::use_awaitable, ec));
  close_after();  // a stream ends with the connection
  co_return !ec;
}

asio::awaitable<bool> Exchange::WriteChunk(std::string data) {
  auto& res = *stream_response_;
  res.body().data = data.data();
  res.body().size = data.size();
  res.body().more = true;
  beast::error_code ec;
  stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
  co_await bhttp::async_write(stream_, *stream_serializer_,
                              asio::redirect_error(asio::use_awaitable, ec));
  if (ec == bhttp::error::need_buffer) ec = {};
  if (!ec) bytes_sent_ += static_cast<int64_t>(data.size());
  co_return !ec;
}

// One connection: requests read and answered in turn (keep-alive), until either side ends it.
class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(HttpServer* server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  asio::awaitable<void> Run();
  // Closes the connection if it is between requests or streaming (called on its executor).
  void CloseIfIdle() {
    if (!busy_ || streaming_) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.socket().close(ec);
    }
  }
  void ForceClose() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }
  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  asio::awaitable<void> Serve(beast::flat_buffer& buffer, bool* keep_going);

  HttpServer* server_;
  beast::tcp_stream stream_;
  bool busy_ = false;
  bool streaming_ = false;
};

asio::awaitable<void> HttpServer::Session::Run() {
  auto self = shared_from_this();
  server_->Register(this);
  beast::flat_buffer buffer;
  bool keep_going = true;
  while (keep_going && !server_->stopping_) {
    try {
      co_await Serve(buffer, &keep_going);
    } catch (const std::exception& e) {
      LogError("http connection failed", {{"reason", e.what()}});
      keep_going = false;
    }
  }
  // Lingering close: a client still sending a body we refused would get a reset, and with it
  // lose our answer, if the socket closed with unread data. Read and drop what it sends for a
  // moment (bounded in time and bytes) after saying we are done.
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec && stream_.socket().is_open()) {
    std::array<char, 16 * 1024> sink;
    size_t drained = 0;
    stream_.expires_after(std::chrono::seconds(2));
    while (!ec && drained < (64u << 20)) {
      drained += co_await stream_.async_read_some(asio::buffer(sink),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  stream_.socket().close(ec);
  server_->Unregister(this);
}

asio::awaitable<void> HttpServer::Session::Serve(beast::flat_buffer& buffer, bool* keep_going) {
  const ServerOptions& options = server_->options_;
  bhttp::request_parser<bhttp::buffer_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // handlers enforce their limits
  beast::error_code ec;
  busy_ = false;
  stream_.expires_after(std::chrono::milliseconds(options.header_timeout_ms));
  co_await bhttp::async_read_header(stream_, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    *keep_going = false;
    if (ec == bhttp::error::header_limit) {
      static constexpr char k431[] =
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
      co_await asio::async_write(stream_, asio::buffer(k431, sizeof(k431) - 1),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return;
  }
  busy_ = true;
  auto started = std::chrono::steady_clock::now();
  std::string request_id = ToString(parser.get()["X-Request-Id"]);
  if (!IsPlainWord(request_id, "-_.")) {
    request_id = server_->request_prefix_ + std::to_string(server_->next_request_++);
  }
  Exchange exchange(stream_, buffer, parser, server_->pool_, options, request_id);
  std::string target = ToString(parser.get().target());
  size_t q = target.find('?');
  exchange.path_ = target.substr(0, q);
  if (q != std::string::npos) exchange.query_string_ = target.substr(q + 1);
  if (server_->stopping_) exchange.close_after();

  server_->handler_->InFlight(1);
  try {
    co_await server_->handler_->Handle(exchange);
  } catch (const std::exception& e) {
    LogError("request failed", {{"request_id", request_id}, {"reason", e.what()}});
    exchange.close_after();
  }
  server_->handler_->InFlight(-1);
  if (exchange.status_sent() == 0) {
    co_await exchange.SendError(500, "internal", "The server did not answer; try again.");
  }
  ExchangeRecord record;
  record.method = ToString(parser.get().method_string());
  record.route = exchange.route();
  record.status = exchange.status_sent();
  record.bytes_sent = exchange.bytes_sent();
  record.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record.request_id = request_id;
  server_->handler_->Finished(record);
  *keep_going = exchange.keep_alive() && parser.is_done() && parser.get().keep_alive();
}

HttpServer::HttpServer(ServerOptions options, Handler* handler)
    : options_(std::move(options)),
      handler_(handler),
      pool_(static_cast<size_t>(options_.blocking_threads)),
      acceptor_(io_),
      request_prefix_(NewId().substr(0, 8) + "-") {}

HttpServer::~HttpServer() {
  if (!threads_.empty()) Stop(0);
  pool_.join();
}

Status HttpServer::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) {
    return Status(ErrorCode::kInvalidConfig,
                  "'" + options_.host + "' is not an IP address to listen on.");
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(ErrorCode::kInvalidConfig, "Cannot listen on " + options_.host + ":" +
                                                 std::to_string(options_.port) + " (" +
                                                 ec.message() + ").");
  }
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(), asio::detached);
  for (int i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] {
      // An exception that escapes a handler ends io_.run() on this thread, not the process:
      // logged, and the thread runs the loop again (without a wait: connections are waiting).
      LoopGuard guard("http I/O thread", {.first_ms = 0, .max_ms = 0});
      auto run = [this] {
        io_.run();
        return Status::Ok();
      };
      while (!guard.Run(run).ok()) {
      }
    });
  }
  return Status::Ok();
}

asio::awaitable<void> HttpServer::Accept() {
  while (!stopping_) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      LogWarning("accept failed", {{"reason", ec.message()}});
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));  // e.g. out of descriptors
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(this, std::move(socket));
    asio::co_spawn(
        session->executor(), [session] { return session->Run(); }, asio::detached);
  }
}

void HttpServer::Register(Session* session) {
  std::lock_guard lock(mutex_);
  sessions_.insert(session);
}

void HttpServer::Unregister(Session* session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
}

void HttpServer::Stop(int64_t grace_ms) {
  if (threads_.empty()) return;
  stopping_ = true;
  asio::post(io_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  auto close_all = [this](bool force) {
    std::lock_guard lock(mutex_);
    for (Session* s : sessions_) {
      auto session = s->weak_from_this().lock();
      if (!session) continue;
      asio::post(session->executor(),
                 [session, force] { force ? session->ForceClose() : session->CloseIfIdle(); });
    }
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (true) {
    close_all(false);  // again each round: a busy connection becomes idle after its response
    {
      std::lock_guard lock(mutex_);
      if (sessions_.empty()) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      close_all(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Let the closed sessions unwind, then stop the loop.
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (sessions_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace vidproc::http
