// The HTTP/1.1 server under `vidproc serve`: Boost.Beast on Asio, one C++20 coroutine per
// connection. I/O threads only parse, route and copy bytes; anything that may block (the database,
// storage, the disk) runs on a separate pool through Exchange::Blocking, so a slow S3 request or a
// busy SQLite never stalls other connections. Every read and write has a deadline: an idle
// keep-alive connection, a slowly trickled header (slowloris) or a stalled body is dropped.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "http/errors.h"
#include "http/headers.h"

namespace vidproc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Extra response headers, in order: (name, value).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  int blocking_threads = 8;  // database and storage calls
  size_t header_limit = 16 * 1024;
  int64_t header_timeout_ms = 30'000;  // idle keep-alive plus the whole request header
  int64_t body_timeout_ms = 60'000;    // without a single byte of the body arriving
  int64_t write_timeout_ms = 60'000;   // without the client taking a byte of the response
  // Connections at once, in all and from one client address (0: no limit). Past them a new
  // connection is answered 503 (server full) or 429 (that client) with Retry-After and closed;
  // when even the few sockets kept for those answers are taken, new connections wait in the
  // kernel's backlog. Either way the server never holds more descriptors than it was given.
  int max_connections = 0;
  int max_connections_per_client = 0;
  int retry_after_s = 5;
  // A request body arriving slower than this on average over each window is cut (0: off), as if
  // the client had gone: a tus upload keeps what arrived and resumes.
  int64_t min_body_bytes_per_s = 0;
  int64_t body_rate_window_ms = 60'000;
};

// One request and the means to answer it. Handlers are coroutines that get an Exchange, read the
// body if they want it (streamed in chunks), and send one response.
class Exchange {
 public:
  Exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
           bhttp::request_parser<bhttp::buffer_body>& parser, asio::thread_pool& pool,
           const ServerOptions& options, std::string request_id, std::string client)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        pool_(pool),
        options_(options),
        request_id_(std::move(request_id)),
        client_(std::move(client)) {}

  bhttp::verb method() const { return parser_.get().method(); }
  std::string_view path() const { return path_; }
  std::optional<std::string> query(const std::string& name) const;
  std::string header(bhttp::field field) const;
  std::string header(std::string_view name) const;
  // The names of the request's header fields, as the client spelled them.
  std::vector<std::string> header_names() const;
  const std::string& request_id() const { return request_id_; }
  // The client's IP address ("127.0.0.1", "::1"), for per-client limits.
  const std::string& client() const { return client_; }
  std::optional<uint64_t> content_length() const;

  // The route the request matched, for logs and metrics ("/api/v1/videos/{id}").
  void set_route(std::string route) { route_ = std::move(route); }
  const std::string& route() const { return route_; }

  // Runs `f` on the blocking pool and resumes on this connection when it returns. Pass a named
  // lambda (`auto get = [..] {..}; co_await ex.Blocking(std::move(get));`): GCC 12 destroys a
  // capturing lambda that is a temporary inside a co_await expression twice.
  template <typename F>
  asio::awaitable<std::invoke_result_t<F>> Blocking(F f);

  // Streams the body to `sink` in chunks (each call on the blocking pool). Stops at the first
  // error `sink` returns. Returns how many bytes were delivered, or the error. A body that ends
  // early (the client went away) is kInputReadFailed, after the bytes that did arrive were sunk.
  asio::awaitable<Result<int64_t>> StreamBody(
      std::function<Status(const char* data, size_t size)> sink, size_t chunk_size = 256 * 1024);
  // Sends "100 Continue" if the client asked for it (curl does for large bodies).
  asio::awaitable<void> ContinueIfExpected();

  // Responses. Each sends one response; the first one counts.
  asio::awaitable<void> Send(bhttp::response<bhttp::string_body> response);
  asio::awaitable<void> SendJson(int status, const nlohmann::json& body, HeaderList headers = {});
  asio::awaitable<void> SendText(int status, std::string content_type, std::string body,
                                 HeaderList headers = {});
  asio::awaitable<void> SendEmpty(int status, HeaderList headers = {});
  // The error envelope ({"error": {"code", "message", "request_id"}}): every error answer goes
  // through here. A 5xx whose message came from a backend (HttpError::internal_detail, every
  // Status) is logged with the request id, and the client gets a generic sentence with that id.
  asio::awaitable<void> SendError(const Status& status, HeaderList headers = {});
  asio::awaitable<void> SendError(const HttpError& error, HeaderList headers = {});
  asio::awaitable<void> SendError(int http_status, std::string_view code, std::string_view message,
                                  HeaderList headers = {});
  // A byte range of a local file, read on the blocking pool (GET and HEAD).
  asio::awaitable<void> SendFile(int status, const std::string& path, int64_t offset,
                                 int64_t length, HeaderList headers);
  // Starts an endless streamed response (SSE); then WriteChunk until it returns false.
  asio::awaitable<bool> StartStream(int status, std::string content_type, HeaderList headers);
  asio::awaitable<bool> WriteChunk(std::string data);

  // Headers every response of this exchange carries, errors included (CORS on the direct upload
  // URLs, so that a page can read every answer).
  void AddResponseHeaders(const HeaderList& headers) {
    always_headers_.insert(always_headers_.end(), headers.begin(), headers.end());
  }

  int status_sent() const { return status_sent_; }
  int64_t bytes_sent() const { return bytes_sent_; }
  bool keep_alive() const { return keep_alive_; }
  // Ends the connection after this response (a body left unread, or the server is stopping).
  void close_after() { keep_alive_ = false; }

 private:
  friend class HttpServer;
  template <typename Message>
  void Decorate(Message& message, int status);

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  asio::thread_pool& pool_;
  const ServerOptions& options_;
  std::string request_id_;
  std::string client_;
  std::string path_;
  std::string query_string_;
  std::string route_ = "other";
  HeaderList always_headers_;
  int status_sent_ = 0;
  int64_t bytes_sent_ = 0;
  bool keep_alive_ = true;
  // For a streamed response (SSE).
  std::unique_ptr<bhttp::response<bhttp::buffer_body>> stream_response_;
  std::unique_ptr<bhttp::response_serializer<bhttp::buffer_body>> stream_serializer_;
};

namespace detail {
// The body of a Blocking call as a coroutine of its own. A plain function, not a lambda: a
// coroutine lambda's captures live in the closure, not the frame, which GCC 12 mishandles.
template <typename F>
asio::awaitable<std::optional<std::invoke_result_t<F>>> CallOnPool(F f) {
  co_return f();
}
}  // namespace detail

template <typename F>
asio::awaitable<std::invoke_result_t<F>> Exchange::Blocking(F f) {
  // co_spawn's completion carries the value: wrapped in optional, so it need not be
  // default-constructible.
  auto out = co_await asio::co_spawn(pool_, detail::CallOnPool(std::move(f)), asio::use_awaitable);
  co_return std::move(*out);
}

// What the server reports after each exchange (access log, metrics).
struct ExchangeRecord {
  std::string method;
  std::string route;
  int status = 0;
  int64_t bytes_sent = 0;
  double seconds = 0;
  std::string request_id;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual asio::awaitable<void> Handle(Exchange& exchange) = 0;
  virtual void Finished(const ExchangeRecord& record) = 0;
  virtual void InFlight(int delta) = 0;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler* handler);
  ~HttpServer();

  // Binds and starts serving; the bound port is port() afterwards.
  Status Start();
  int port() const { return port_; }
  // Stops accepting, lets requests in progress finish for up to `grace_ms` (streams such as SSE
  // and idle keep-alive connections are closed at once), then stops.
  void Stop(int64_t grace_ms);

 private:
  class Session;
  enum class Admission { kAdmitted, kServerFull, kClientFull };
  asio::awaitable<void> Accept();
  // Counts a new connection from `client` in, unless a limit says no.
  Admission Admit(const std::string& client);
  // Answers a connection that was not admitted and closes it.
  asio::awaitable<void> Refuse(asio::ip::tcp::socket socket, Admission why);
  void Register(Session* session);
  void Unregister(Session* session, const std::string& client);
  void WakeAcceptor();

  ServerOptions options_;
  Handler* handler_;
  asio::io_context io_;
  asio::thread_pool pool_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::set<Session*> sessions_;
  int connections_ = 0;                    // GUARDED_BY(mutex_): admitted, not yet closed
  std::map<std::string, int> per_client_;  // GUARDED_BY(mutex_)
  std::atomic<int> refusing_ = 0;          // sockets being answered 503/429
  // The acceptor's coroutine and the timer it waits on while every socket is taken.
  asio::strand<asio::io_context::executor_type> accept_strand_;
  asio::steady_timer slot_freed_;
  const std::string request_prefix_;  // request ids: this process's prefix and a counter
  std::atomic<uint64_t> next_request_ = 0;
};

}  // namespace vidproc::http
