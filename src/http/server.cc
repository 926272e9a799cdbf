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

// Sockets kept for answering connections over a limit (503/429); past them, new connections wait
// in the kernel's backlog, where they cost this process no descriptor.
constexpr int kRefusalSockets = 32;

// A complete error answer (the JSON envelope, Connection: close) for when there is no request to
// answer through an Exchange: a header that cannot be parsed, a connection over a limit.
asio::awaitable<void> WriteBareError(beast::tcp_stream& stream, int status, std::string_view code,
                                     std::string_view message, const std::string& request_id,
                                     const HeaderList& headers, int64_t timeout_ms) {
  bhttp::response<bhttp::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(status));
  res.set(bhttp::field::server, std::string("vidproc/") + kVersion);
  res.set("X-Request-Id", request_id);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  for (const auto& [name, value] : headers) res.set(name, value);
  res.keep_alive(false);
  res.body() = ErrorBody(status, code, message, request_id);
  res.prepare_payload();
  beast::error_code ec;
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
}

// Request framing that could let a body be read as a request of its own (smuggling): a
// Transfer-Encoding other than exactly "chunked", more than one, one next to a Content-Length,
// or one in HTTP/1.0. Refused before anything reads the body; the connection then closes.
std::optional<HttpError> FramingError(const bhttp::request<bhttp::buffer_body>& request) {
  int encodings = 0;
  std::string value;
  for (const auto& field : request) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    ++encodings;
    value = ToString(field.value());
  }
  if (encodings == 0) return std::nullopt;
  if (encodings > 1 || request.find(bhttp::field::content_length) != request.end() ||
      request.version() < 11) {
    return HttpError{400, "bad_framing",
                     "Send the body with either a Content-Length or one 'Transfer-Encoding: "
                     "chunked' (HTTP/1.1), never both."};
  }
  const size_t begin = value.find_first_not_of(" \t");
  const size_t end = value.find_last_not_of(" \t");
  value = begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
  if (!beast::iequals(value, "chunked")) {
    return HttpError{501, "unsupported_transfer_encoding",
                     "The only Transfer-Encoding accepted is 'chunked'."};
  }
  return std::nullopt;
}

// A request header that is not HTTP/1.1 (as opposed to a client that went away or stalled).
bool IsMalformedRequest(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more && ec != bhttp::error::need_buffer;
}

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

std::vector<std::string> Exchange::header_names() const {
  std::vector<std::string> names;
  for (const auto& field : parser_.get()) names.push_back(ToString(field.name_string()));
  return names;
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
  for (const auto& [name, value] : always_headers_) message.set(name, value);
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
  // The minimum rate: each window must bring its share of bytes, or the body is cut at its end
  // (a trickle of one byte before each body timeout would otherwise hold the upload forever).
  using Clock = std::chrono::steady_clock;
  const bool rate_limited = options_.min_body_bytes_per_s > 0 && options_.body_rate_window_ms > 0;
  const auto window = std::chrono::milliseconds(options_.body_rate_window_ms);
  const int64_t window_need = options_.min_body_bytes_per_s * options_.body_rate_window_ms / 1000;
  Clock::time_point window_start = Clock::now();
  int64_t window_bytes = 0;
  bool too_slow = false;
  beast::error_code ec;
  while (true) {
    body.data = chunks[current].data();
    body.size = chunk_size;
    // Fill the chunk (one storage call per chunk, not per TCP read); each read must make progress
    // within the body timeout.
    while (!ec && !too_slow && body.size > 0 && !parser_.is_done()) {
      Clock::time_point deadline =
          Clock::now() + std::chrono::milliseconds(options_.body_timeout_ms);
      // The current window must still get its share, or (if it has) the next one must.
      const Clock::time_point rate_deadline =
          window_start + (window_bytes < window_need ? window : 2 * window);
      const bool window_deadline = rate_limited && rate_deadline < deadline;
      if (window_deadline) deadline = rate_deadline;
      stream_.expires_at(deadline);
      const size_t room = body.size;
      co_await bhttp::async_read_some(stream_, buffer_, parser_,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::need_buffer) ec = {};
      window_bytes += static_cast<int64_t>(room - body.size);
      if (!rate_limited) continue;
      if (ec == beast::error::timeout && window_deadline) {
        too_slow = true;
        break;
      }
      for (const auto now = Clock::now(); !too_slow && now >= window_start + window;) {
        too_slow = window_bytes < window_need;
        window_start += window;
        window_bytes = 0;
      }
    }
    const size_t n = chunk_size - body.size;
    if (in_flight->busy) {
      while (in_flight->busy) {
        beast::error_code wait_ec;
        co_await finished.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      }
      // Time spent waiting for storage is not the client's.
      window_start = Clock::now();
      window_bytes = 0;
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
    if (ec || too_slow || parser_.is_done()) break;
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
  if (too_slow) {
    // Cut as if the client had gone: it resumes (tus) or sends again on a new connection.
    beast::error_code close_ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, close_ec);
    stream_.socket().close(close_ec);
    close_after();
    co_return Status(ErrorCode::kInputReadFailed,
                     "The request body arrived slower than " +
                         std::to_string(options_.min_body_bytes_per_s) +
                         " bytes/s; it was cut after " + std::to_string(total) + " bytes.");
  }
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

asio::awaitable<void> Exchange::SendError(const Status& status, HeaderList headers) {
  co_await SendError(ToHttpError(status), std::move(headers));
}

asio::awaitable<void> Exchange::SendError(const HttpError& error, HeaderList headers) {
  std::string message = error.message;
  if (error.status >= 500 && error.internal_detail) {
    // Backend text (libpq, S3, paths) is for operators: the log has it under the request id.
    LogError("request failed", {{"request_id", request_id_},
                                {"route", route_},
                                {"status", error.status},
                                {"code", error.code},
                                {"reason", error.message}});
    message = GenericServerMessage(error.status, request_id_);
  }
  if (error.retry_after_s > 0) {
    headers.push_back({"Retry-After", std::to_string(error.retry_after_s)});
  }
  co_await SendError(error.status, error.code, message, std::move(headers));
}

asio::awaitable<void> Exchange::SendError(int http_status, std::string_view code,
                                          std::string_view message, HeaderList headers) {
  co_await SendText(http_status, "application/json; charset=utf-8",
                    ErrorBody(http_status, code, message, request_id_), std::move(headers));
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
  Session(HttpServer* server, tcp::socket socket, std::string client)
      : server_(server), stream_(std::move(socket)), client_(std::move(client)) {}

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
  const std::string client_;  // the peer's address
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
  server_->Unregister(this, client_);
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
    const std::string id = server_->request_prefix_ + std::to_string(server_->next_request_++);
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      co_await WriteBareError(
          stream_, 431, "header_too_large",
          "The request header is over " + std::to_string(options.header_limit / 1024) + " KiB.", id,
          {}, options.write_timeout_ms);
    } else if (IsMalformedRequest(ec)) {
      co_await WriteBareError(stream_, 400, "bad_request",
                              "The request is not valid HTTP/1.1 (" + ec.message() + ").", id, {},
                              options.write_timeout_ms);
    }
    co_return;
  }
  busy_ = true;
  auto started = std::chrono::steady_clock::now();
  std::string request_id = ToString(parser.get()["X-Request-Id"]);
  if (!IsPlainWord(request_id, "-_.")) {
    request_id = server_->request_prefix_ + std::to_string(server_->next_request_++);
  }
  Exchange exchange(stream_, buffer, parser, server_->pool_, options, request_id, client_);
  std::string target = ToString(parser.get().target());
  size_t q = target.find('?');
  exchange.path_ = target.substr(0, q);
  if (q != std::string::npos) exchange.query_string_ = target.substr(q + 1);
  if (server_->stopping_) exchange.close_after();

  server_->handler_->InFlight(1);
  if (auto framing = FramingError(parser.get())) {
    exchange.close_after();  // the body is never parsed, as a body or as a request
    co_await exchange.SendError(*framing);
  } else {
    try {
      co_await server_->handler_->Handle(exchange);
    } catch (const std::exception& e) {
      LogError("request failed", {{"request_id", request_id}, {"reason", e.what()}});
      exchange.close_after();
    }
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
      accept_strand_(asio::make_strand(io_)),
      slot_freed_(accept_strand_),
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
  asio::co_spawn(accept_strand_, Accept(), asio::detached);
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
    // Every connection and every refusal socket taken: leave new ones in the backlog until one
    // closes (woken by WakeAcceptor; the timeout covers a wake-up that came before the wait).
    while (!stopping_ && refusing_ >= kRefusalSockets && Admit("") == Admission::kServerFull) {
      slot_freed_.expires_after(std::chrono::milliseconds(100));
      co_await slot_freed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
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
    std::string client = socket.remote_endpoint(ec).address().to_string();
    if (ec) continue;  // already gone
    if (Admission admission = Admit(client); admission != Admission::kAdmitted) {
      if (refusing_ >= kRefusalSockets) continue;  // closed unanswered
      ++refusing_;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, Refuse(std::move(socket), admission), asio::detached);
      continue;
    }
    auto session = std::make_shared<Session>(this, std::move(socket), std::move(client));
    asio::co_spawn(
        session->executor(), [session] { return session->Run(); }, asio::detached);
  }
}

HttpServer::Admission HttpServer::Admit(const std::string& client) {
  std::lock_guard lock(mutex_);
  if (options_.max_connections > 0 && connections_ >= options_.max_connections) {
    return Admission::kServerFull;
  }
  if (client.empty()) return Admission::kAdmitted;  // a question only: nothing counted
  int& from_client = per_client_[client];
  if (options_.max_connections_per_client > 0 &&
      from_client >= options_.max_connections_per_client) {
    return Admission::kClientFull;
  }
  ++from_client;
  ++connections_;
  return Admission::kAdmitted;
}

asio::awaitable<void> HttpServer::Refuse(tcp::socket socket, Admission why) {
  beast::tcp_stream stream(std::move(socket));
  const bool server_full = why == Admission::kServerFull;
  const std::string id = request_prefix_ + std::to_string(next_request_++);
  const HeaderList headers = {{"Retry-After", std::to_string(options_.retry_after_s)}};
  co_await WriteBareError(
      stream, server_full ? 503 : 429, server_full ? "server_busy" : "too_many_connections",
      server_full ? "The server has as many connections as it takes; try again shortly."
                  : "You have as many connections open as one client may; close some or wait.",
      id, headers, 2'000);
  // A short lingering close, so that a request already sent does not turn our answer into a
  // reset; bounded, since this socket is one of the few kept for refusals.
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    std::array<char, 4096> sink;
    size_t drained = 0;
    stream.expires_after(std::chrono::milliseconds(500));
    while (!ec && drained < (64u << 10)) {
      drained += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  stream.socket().close(ec);
  --refusing_;
  WakeAcceptor();
}

void HttpServer::Register(Session* session) {
  std::lock_guard lock(mutex_);
  sessions_.insert(session);
}

void HttpServer::Unregister(Session* session, const std::string& client) {
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    --connections_;
    if (auto it = per_client_.find(client); it != per_client_.end() && --it->second <= 0) {
      per_client_.erase(it);
    }
  }
  WakeAcceptor();
}

void HttpServer::WakeAcceptor() {
  asio::post(accept_strand_, [this] { slot_freed_.cancel(); });
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
