#include "http/api.h"

#include <sys/stat.h>

#include <vector>

#include "core/ids.h"
#include "core/log.h"
#include "core/units.h"
#include "http/errors.h"
#include "http/multipart.h"
#include "http/web_page.h"
#include "queue/video_json.h"

namespace vidproc::http {
namespace {

constexpr const char* kTusVersion = "1.0.0";

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

// Ids are vidproc's own (core/ids.h): anything else cannot name a video.
bool IsId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// A header or query value that must be a whole number of 0 or more.
std::optional<int64_t> ParseNonNegative(const std::string& s) {
  auto n = ParseInteger(s, 0, INT64_MAX);
  return n.ok() ? std::optional<int64_t>(n.value()) : std::nullopt;
}

std::string Base64Decode(std::string_view in) {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int value = 0, bits = -8;
  for (char c : in) {
    size_t d = kChars.find(c);
    if (d == std::string::npos) break;  // '=' padding or garbage ends it
    value = (value << 6) + static_cast<int>(d);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((value >> bits) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

// tus Upload-Metadata: "key base64,key2 base64".
std::string MetadataValue(const std::string& header, const std::string& key) {
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string::npos) end = header.size();
    std::string pair = header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.erase(0, 1);
    size_t space = pair.find(' ');
    if (pair.substr(0, space) == key) {
      return space == std::string::npos ? "" : Base64Decode(pair.substr(space + 1));
    }
    start = end + 1;
  }
  return "";
}

std::string HttpDate(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// If-None-Match (RFC 9110 13.1.2): "*", or a comma-separated list of tags compared weakly.
bool EtagListMatches(const std::string& header, const std::string& etag) {
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string::npos) end = header.size();
    std::string tag = header.substr(start, end - start);
    tag.erase(0, tag.find_first_not_of(" \t"));
    tag.erase(tag.find_last_not_of(" \t") + 1);
    if (tag.rfind("W/", 0) == 0) tag.erase(0, 2);
    if (tag == "*" || tag == etag) return true;
    start = end + 1;
  }
  return false;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers TusHeaders() { return {{"Tus-Resumable", kTusVersion}, {"Cache-Control", "no-store"}}; }

}  // namespace

Api::Api(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock, ApiOptions options)
    : store_(store),
      blobs_(blobs),
      clock_(clock),
      options_(std::move(options)),
      auth_(options_.api_token),
      uploads_(store, blobs, clock, options_.uploads),
      hub_(store, clock, [this](const queue::Video& v) { return Render(v).dump(); }) {
  if (options_.access_log) access_log_ = std::make_unique<AccessLog>();
}

Api::~Api() { Stop(); }

void Api::Start() { hub_.Start(); }
void Api::Stop() { hub_.Stop(); }

nlohmann::json Api::Render(const queue::Video& video) const {
  nlohmann::json out = queue::ToApiJson(video);
  if (video.status == queue::VideoStatus::kReady) {
    std::string base = "/api/v1/videos/" + video.id;
    out["video_url"] = base + "/video" + auth_.SignQuery(base + "/video", NowS());
    out["thumbnail_url"] = base + "/thumbnail" + auth_.SignQuery(base + "/thumbnail", NowS());
  }
  return out;
}

bool Api::Authorized(const Exchange& ex) const {
  return auth_.Allows(ex.header(bhttp::field::authorization));
}

asio::awaitable<void> Api::Unauthorized(Exchange& ex) {
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::unauthorized);
  res.set(bhttp::field::www_authenticate, "Bearer realm=\"vidproc\"");
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = nlohmann::json({{"error",
                                {{"code", "unauthorized"},
                                 {"message",
                                  "This server needs an API token: send the header "
                                  "'Authorization: Bearer <token>'."}}}})
                   .dump() +
               "\n";
  co_await ex.Send(std::move(res));
}

asio::awaitable<void> Api::NotAllowed(Exchange& ex, const char* allow) {
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::method_not_allowed);
  res.set(bhttp::field::allow, allow);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = nlohmann::json({{"error",
                                {{"code", "method_not_allowed"},
                                 {"message", std::string("Use one of: ") + allow + "."}}}})
                   .dump() +
               "\n";
  co_await ex.Send(std::move(res));
}

void Api::Finished(const ExchangeRecord& r) {
  metrics_.RecordRequest(r.method, r.route, r.status, r.seconds);
  if (access_log_) access_log_->Add(r);
}

asio::awaitable<void> Api::Handle(Exchange& ex) {
  const auto m = ex.method();
  const bool get = m == bhttp::verb::get || m == bhttp::verb::head;
  const auto seg = Segments(ex.path());

  if (seg.empty()) {
    ex.set_route("/");
    if (!get) co_return co_await NotAllowed(ex, "GET, HEAD");
    co_return co_await Page(ex);
  }
  if (seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "readyz" || seg[0] == "metrics")) {
    ex.set_route("/" + seg[0]);
    if (!get) co_return co_await NotAllowed(ex, "GET, HEAD");
    if (seg[0] == "healthz") co_return co_await ex.SendJson(200, nlohmann::json::object());
    if (seg[0] == "readyz") co_return co_await Ready(ex);
    if (!Authorized(ex)) co_return co_await Unauthorized(ex);
    co_return co_await MetricsPage(ex);
  }
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") {
    co_return co_await ex.SendError(404, "not_found", "There is nothing at this address.");
  }
  const std::string& resource = seg[2];

  // Media URLs may carry a signature instead of the header (<video src> cannot send one).
  if (resource == "videos" && seg.size() == 5 && (seg[4] == "video" || seg[4] == "thumbnail")) {
    ex.set_route("/api/v1/videos/{id}/" + seg[4]);
    bool signed_ok = auth_.enabled() && ex.query("sig") &&
                     auth_.VerifySignature(ex.path(), ex.query("expires").value_or(""),
                                           *ex.query("sig"), NowS());
    if (!signed_ok && !Authorized(ex)) co_return co_await Unauthorized(ex);
    if (!get) co_return co_await NotAllowed(ex, "GET, HEAD");
    if (!IsId(seg[3])) co_return co_await ex.SendError(404, "not_found", "No such video.");
    co_return co_await Media(ex, seg[3], seg[4] == "thumbnail");
  }
  // tus clients probe capabilities without credentials.
  if (resource == "uploads" && m == bhttp::verb::options) {
    ex.set_route(seg.size() == 3 ? "/api/v1/uploads" : "/api/v1/uploads/{id}");
    co_return co_await TusOptions(ex);
  }
  if (!Authorized(ex)) {
    ex.set_route("/api/v1/" + resource);
    co_return co_await Unauthorized(ex);
  }

  if (resource == "videos") {
    if (seg.size() == 3) {
      ex.set_route("/api/v1/videos");
      if (get) co_return co_await ListVideos(ex);
      if (m == bhttp::verb::post) co_return co_await Upload(ex);
      co_return co_await NotAllowed(ex, "GET, HEAD, POST");
    }
    const std::string& id = seg[3];
    if (seg.size() == 4) {
      ex.set_route("/api/v1/videos/{id}");
      if (!IsId(id)) co_return co_await ex.SendError(404, "not_found", "No such video.");
      if (get) co_return co_await GetVideo(ex, id);
      if (m == bhttp::verb::delete_) co_return co_await DeleteVideo(ex, id);
      co_return co_await NotAllowed(ex, "GET, HEAD, DELETE");
    }
    if (seg.size() == 5 && seg[4] == "retry") {
      ex.set_route("/api/v1/videos/{id}/retry");
      if (m != bhttp::verb::post) co_return co_await NotAllowed(ex, "POST");
      if (!IsId(id)) co_return co_await ex.SendError(404, "not_found", "No such video.");
      co_return co_await RetryVideo(ex, id);
    }
  } else if (resource == "uploads") {
    if (ex.header("Tus-Resumable") != kTusVersion) {
      ex.set_route("/api/v1/uploads");
      bhttp::response<bhttp::string_body> res;
      res.result(bhttp::status::precondition_failed);
      res.set("Tus-Version", kTusVersion);
      res.set(bhttp::field::content_type, "application/json; charset=utf-8");
      res.body() = nlohmann::json({{"error",
                                    {{"code", "tus_version_unsupported"},
                                     {"message", "Send 'Tus-Resumable: 1.0.0' (tus 1.0.0)."}}}})
                       .dump();
      ex.close_after();
      co_return co_await ex.Send(std::move(res));
    }
    if (seg.size() == 3) {
      ex.set_route("/api/v1/uploads");
      if (m == bhttp::verb::post) co_return co_await TusCreate(ex);
      co_return co_await NotAllowed(ex, "OPTIONS, POST");
    }
    if (seg.size() == 4) {
      ex.set_route("/api/v1/uploads/{id}");
      if (!IsId(seg[3])) co_return co_await ex.SendError(404, "not_found", "No such upload.");
      if (m == bhttp::verb::head) co_return co_await TusHead(ex, seg[3]);
      if (m == bhttp::verb::patch) co_return co_await TusPatch(ex, seg[3]);
      if (m == bhttp::verb::delete_) co_return co_await TusDelete(ex, seg[3]);
      co_return co_await NotAllowed(ex, "OPTIONS, HEAD, PATCH, DELETE");
    }
  } else if (resource == "queue" && seg.size() == 3) {
    ex.set_route("/api/v1/queue");
    if (!get) co_return co_await NotAllowed(ex, "GET, HEAD");
    co_return co_await Queue(ex);
  } else if (resource == "events" && seg.size() == 3) {
    ex.set_route("/api/v1/events");
    if (!get) co_return co_await NotAllowed(ex, "GET");
    co_return co_await Events(ex);
  }
  co_await ex.SendError(404, "not_found", "There is nothing at this address.");
}

asio::awaitable<void> Api::Page(Exchange& ex) {
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::ok);
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-cache");
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
          "'unsafe-inline'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; "
          "connect-src 'self'; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::string(WebPage());
  co_await ex.Send(std::move(res));
}

asio::awaitable<void> Api::Ready(Exchange& ex) {
  auto check = [this] {
    nlohmann::json out = {{"database", "ok"}, {"storage", "ok"}};
    bool ok = true;
    if (auto counts = store_->Counts(); !counts.ok()) {
      out["database"] = counts.status().message();
      ok = false;
    }
    if (auto probe = blobs_->Stat("readyz-probe"); !probe.ok()) {
      out["storage"] = probe.status().message();
      ok = false;
    }
    return std::make_pair(ok, out);
  };
  auto checks = co_await ex.Blocking(std::move(check));
  co_await ex.SendJson(checks.first ? 200 : 503, checks.second);
}

asio::awaitable<void> Api::MetricsPage(Exchange& ex) {
  auto count = [this] { return store_->Counts(); };
  auto counts = co_await ex.Blocking(std::move(count));
  co_await ex.SendText(200, "text/plain; version=0.0.4; charset=utf-8",
                       metrics_.Render(counts.ok() ? &counts.value() : nullptr));
}

asio::awaitable<void> Api::ListVideos(Exchange& ex) {
  std::optional<queue::VideoStatus> status;
  if (auto s = ex.query("status"); s && !s->empty()) {
    status = queue::ParseVideoStatus(*s);
    if (!status) {
      co_return co_await ex.SendError(
          400, "invalid_argument",
          "status must be one of uploading, queued, processing, ready, failed.");
    }
  }
  int limit = 20;
  if (auto l = ex.query("limit"); l && !l->empty()) {
    auto n = ParseNonNegative(*l);
    if (!n || *n < 1 || *n > 100) {
      co_return co_await ex.SendError(400, "invalid_argument",
                                      "limit must be a whole number from 1 to 100.");
    }
    limit = static_cast<int>(*n);
  }
  std::string cursor = ex.query("cursor").value_or("");
  auto list = [this, status, limit, cursor] { return store_->ListVideos(status, limit, cursor); };
  auto page = co_await ex.Blocking(std::move(list));
  if (!page.ok()) co_return co_await ex.SendError(page.status());
  nlohmann::json videos = nlohmann::json::array();
  for (const auto& v : page->videos) videos.push_back(Render(v));
  nlohmann::json out = {
      {"videos", videos},
      {"next_cursor",
       page->next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(page->next_cursor)}};
  co_await ex.SendJson(200, out);
}

asio::awaitable<void> Api::GetVideo(Exchange& ex, const std::string& id) {
  auto get = [this, id] { return store_->GetVideo(id); };
  auto video = co_await ex.Blocking(std::move(get));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  co_await ex.SendJson(200, Render(video.value()));
}

asio::awaitable<std::optional<Status>> Api::RemoveUnlessLocked(Exchange& ex,
                                                               const std::string& id) {
  if (!uploads_.TryLock(id)) co_return std::nullopt;
  auto remove = [this, id] { return uploads_.Delete(id); };
  Status s = co_await ex.Blocking(std::move(remove));
  uploads_.Unlock(id);
  if (s.ok()) {
    LogInfo("deleted", {{"video", id}});
    hub_.PublishDeleted(id);
  }
  co_return s;
}

asio::awaitable<void> Api::DeleteVideo(Exchange& ex, const std::string& id) {
  auto removed = co_await RemoveUnlessLocked(ex, id);
  if (!removed) {
    co_return co_await ex.SendError(409, "invalid_state",
                                    "The video is being uploaded right now; try again.");
  }
  if (!removed->ok()) co_return co_await ex.SendError(*removed);
  co_await ex.SendEmpty(204);
}

asio::awaitable<void> Api::RetryVideo(Exchange& ex, const std::string& id) {
  auto retry = [this, id]() -> Result<queue::Video> {
    RETURN_IF_ERROR(store_->RetryVideo(id));
    return store_->GetVideo(id);
  };
  auto video = co_await ex.Blocking(std::move(retry));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("retry queued", {{"video", id}});
  co_await ex.SendJson(202, Render(video.value()));
}

asio::awaitable<void> Api::Upload(Exchange& ex) {
  const int64_t max = options_.uploads.max_upload_bytes;
  if (auto length = ex.content_length(); length && static_cast<int64_t>(*length) > max) {
    ex.close_after();
    co_return co_await ex.SendError(
        413, "too_large_file",
        "The upload is larger than this server accepts (" + std::to_string(max) + " bytes).");
  }
  std::string type = AsciiLower(ex.header(bhttp::field::content_type));
  std::string filename;
  std::string boundary;
  if (type.rfind("multipart/form-data", 0) == 0) {
    auto parsed = MultipartParser::BoundaryOf(ex.header(bhttp::field::content_type));
    if (!parsed.ok()) {
      ex.close_after();
      co_return co_await ex.SendError(parsed.status());
    }
    boundary = parsed.value();
  } else if (type.rfind("video/", 0) == 0 || type.rfind("application/octet-stream", 0) == 0) {
    filename = UrlDecode(ex.header("X-Filename"));
  } else {
    ex.close_after();
    co_return co_await ex.SendError(
        415, "unsupported_media_type",
        "Send the file as multipart/form-data (field 'file'), or as the raw body with "
        "Content-Type video/* or application/octet-stream.");
  }

  const std::string id = NewId();
  auto open = [this, id] { return uploads_.OpenOriginal(id); };
  auto opened = co_await ex.Blocking(std::move(open));
  if (!opened.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(opened.status());
  }
  std::unique_ptr<storage::BlobWriter> writer = std::move(opened).value();
  int64_t stored = 0;
  auto store_bytes = [&writer, &stored, max](const char* data, size_t size) {
    if (stored + static_cast<int64_t>(size) > max) {
      return Status(ErrorCode::kTooLargeFile, "The upload is larger than this server accepts (" +
                                                  std::to_string(max) + " bytes).");
    }
    stored += static_cast<int64_t>(size);
    return writer->Append(data, size);
  };
  Status result;
  if (!boundary.empty()) {
    MultipartParser parser(boundary, "file", store_bytes);
    auto feed_form = [&parser](const char* data, size_t size) { return parser.Feed(data, size); };
    auto body = co_await ex.StreamBody(std::move(feed_form));
    result = body.ok() ? parser.Finish() : body.status();
    filename = parser.filename();
  } else {
    auto body = co_await ex.StreamBody(store_bytes);
    result = body.ok() ? Status::Ok() : body.status();
  }
  metrics_.AddUploadBytes(stored);
  if (result.ok() && stored == 0) {
    result = Status(ErrorCode::kEmptyFile, "The uploaded file is empty.");
  }
  if (!result.ok()) {
    metrics_.UploadFinished(false);
    // Abandoning the writer may be a storage call (an S3 multipart abort).
    auto abandon = [&writer] {
      writer.reset();
      return 0;
    };
    co_await ex.Blocking(std::move(abandon));
    if (result.code() == ErrorCode::kInputReadFailed) {
      LogInfo("upload cut off", {{"bytes", stored}, {"request_id", ex.request_id()}});
    }
    co_return co_await ex.SendError(result);
  }
  auto commit = [this, &writer, id, filename, stored]() -> Result<queue::Video> {
    RETURN_IF_ERROR(writer->Commit());
    return uploads_.Record(id, filename, stored);
  };
  auto video = co_await ex.Blocking(std::move(commit));
  metrics_.UploadFinished(video.ok());
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("queued", {{"video", id}, {"filename", video->filename}, {"bytes", stored}});
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::created);
  res.set(bhttp::field::location, "/api/v1/videos/" + id);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = Render(video.value()).dump() + "\n";
  co_await ex.Send(std::move(res));
}

asio::awaitable<void> Api::Media(Exchange& ex, const std::string& id, bool thumbnail) {
  struct Found {
    Status status;
    storage::ServeLocation where;
    int64_t size = 0;
    int64_t mtime_ns = 0;
  };
  const std::string key = thumbnail ? storage::ThumbnailKey(id) : storage::VideoKey(id);
  auto locate = [this, id, key] {
    Found f;
    auto video = store_->GetVideo(id);
    if (!video.ok()) {
      f.status = video.status();
      return f;
    }
    if (video->status != queue::VideoStatus::kReady) {
      f.status = Status(ErrorCode::kInvalidState, "The video is " +
                                                      std::string(StatusName(video->status)) +
                                                      ", not ready: there is nothing to play yet.");
      return f;
    }
    auto where = blobs_->Locate(key, options_.presign_expiry_s);
    if (!where.ok()) {
      f.status = where.status();
      return f;
    }
    f.where = where.value();
    if (!f.where.local_path.empty()) {
      struct stat st {};
      if (::stat(f.where.local_path.c_str(), &st) != 0) {
        f.status = Status(ErrorCode::kNotFound, "The processed file is missing from storage.");
        return f;
      }
      f.size = st.st_size;
      f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    }
    return f;
  };
  Found found = co_await ex.Blocking(std::move(locate));
  if (!found.status.ok()) co_return co_await ex.SendError(found.status);
  if (!found.where.presigned_url.empty()) {
    Headers redirect = {{"Location", found.where.presigned_url}, {"Cache-Control", "no-store"}};
    co_return co_await ex.SendEmpty(302, std::move(redirect));
  }
  const std::string etag =
      "\"" + std::to_string(found.size) + "-" + std::to_string(found.mtime_ns) + "\"";
  Headers headers = {{"Content-Type", thumbnail ? "image/jpeg" : "video/mp4"},
                     {"Accept-Ranges", "bytes"},
                     {"ETag", etag},
                     {"Last-Modified", HttpDate(found.mtime_ns / 1'000'000'000)},
                     {"Cache-Control", "private, max-age=3600"}};
  if (EtagListMatches(ex.header(bhttp::field::if_none_match), etag)) {
    Headers not_modified = {{"ETag", etag}, {"Cache-Control", "private, max-age=3600"}};
    co_return co_await ex.SendEmpty(304, std::move(not_modified));
  }
  std::string range = ex.header(bhttp::field::range);
  std::string if_range = ex.header(bhttp::field::if_range);
  if (!if_range.empty() && if_range != etag) range.clear();  // changed since: send it whole
  auto r = ParseRange(range, found.size);
  if (!r) {
    Headers unsatisfiable = {{"Content-Range", "bytes */" + std::to_string(found.size)},
                             {"Accept-Ranges", "bytes"}};
    co_return co_await ex.SendEmpty(416, std::move(unsatisfiable));
  }
  if (r->partial) {
    headers.push_back({"Content-Range", "bytes " + std::to_string(r->offset) + "-" +
                                            std::to_string(r->offset + r->length - 1) + "/" +
                                            std::to_string(found.size)});
  }
  co_await ex.SendFile(r->partial ? 206 : 200, found.where.local_path, r->offset, r->length,
                       std::move(headers));
}

asio::awaitable<void> Api::Queue(Exchange& ex) {
  auto read_queue = [this]() -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(auto counts, store_->Counts());
    ASSIGN_OR_RETURN(auto workers, store_->ListWorkers(60'000));
    nlohmann::json list = nlohmann::json::array();
    int slots = 0;
    for (const auto& w : workers) {
      slots += w.slots;
      list.push_back(queue::ToApiJson(w));
    }
    return nlohmann::json{{"uploading", counts.uploading},
                          {"queued", counts.queued},
                          {"processing", counts.processing},
                          {"ready", counts.ready},
                          {"failed", counts.failed},
                          {"slots", slots},
                          {"workers", list}};
  };
  auto result = co_await ex.Blocking(std::move(read_queue));
  if (!result.ok()) co_return co_await ex.SendError(result.status());
  co_await ex.SendJson(200, result.value());
}

asio::awaitable<void> Api::Events(Exchange& ex) {
  auto executor = co_await asio::this_coro::executor;
  auto subscriber = hub_.Subscribe(executor);
  metrics_.EventClients(1);
  // Resume: everything that changed since the client's last event, from the shared feed.
  std::vector<std::string> backlog;
  if (auto last = ParseNonNegative(ex.header("Last-Event-ID"))) {
    const int64_t since = *last;
    auto read_feed = [this, since] { return store_->ListChangedSince(since, 1000); };
    auto changed = co_await ex.Blocking(std::move(read_feed));
    if (changed.ok()) {
      for (const auto& v : changed.value()) backlog.push_back(hub_.VideoFrame(v));
    }
  }
  Headers headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  bool ok = co_await ex.StartStream(200, "text/event-stream", std::move(headers));
  if (ok) ok = co_await ex.WriteChunk("retry: 2000\n: connected\n\n");
  for (auto& frame : backlog) {
    if (!ok) break;
    ok = co_await ex.WriteChunk(std::move(frame));
  }
  while (ok && subscriber->open()) {
    auto frames = subscriber->Take();
    if (!frames.empty()) {
      std::string batch;
      for (auto& f : frames) batch += f;
      ok = co_await ex.WriteChunk(std::move(batch));
      continue;  // more may have arrived while writing
    }
    auto& timer = subscriber->wake_timer();
    timer.expires_after(std::chrono::milliseconds(options_.keepalive_ms));
    beast::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) ok = co_await ex.WriteChunk(": keep-alive\n\n");  // the timer ran out: idle
  }
  hub_.Unsubscribe(subscriber);
  metrics_.EventClients(-1);
}

asio::awaitable<void> Api::TusOptions(Exchange& ex) {
  Headers headers = {{"Tus-Resumable", kTusVersion},
                     {"Tus-Version", kTusVersion},
                     {"Tus-Extension", "creation,termination,expiration"},
                     {"Tus-Max-Size", std::to_string(options_.uploads.max_upload_bytes)}};
  co_await ex.SendEmpty(204, std::move(headers));
}

asio::awaitable<void> Api::TusCreate(Exchange& ex) {
  auto length = ParseNonNegative(ex.header("Upload-Length"));
  if (!length || *length == 0) {
    ex.close_after();
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Upload-Length must be the file's size in bytes (deferred "
                                    "lengths are not supported).");
  }
  if (*length > options_.uploads.max_upload_bytes) {
    ex.close_after();
    co_return co_await ex.SendError(413, "too_large_file",
                                    "The upload is larger than this server accepts (" +
                                        std::to_string(options_.uploads.max_upload_bytes) +
                                        " bytes).");
  }
  if (ex.content_length().value_or(0) > 0) {
    ex.close_after();  // creation-with-upload is not offered
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Create the upload with an empty POST, then PATCH its bytes.");
  }
  std::string metadata = ex.header("Upload-Metadata");
  std::string filename = MetadataValue(metadata, "filename");
  if (filename.empty()) filename = MetadataValue(metadata, "name");
  auto create = [this, filename, n = *length] { return uploads_.CreateResumable(filename, n); };
  auto video = co_await ex.Blocking(std::move(create));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("upload created",
          {{"video", video->id}, {"filename", video->filename}, {"bytes", *length}});
  Headers headers = TusHeaders();
  headers.push_back({"Location", "/api/v1/uploads/" + video->id});
  headers.push_back(
      {"Upload-Expires", HttpDate((video->created_at_ms + options_.uploads.expiry_ms) / 1000)});
  co_await ex.SendEmpty(201, std::move(headers));
}

asio::awaitable<void> Api::TusHead(Exchange& ex, const std::string& id) {
  auto find = [this, id] { return uploads_.Find(id); };
  auto state = co_await ex.Blocking(std::move(find));
  if (!state.ok()) {
    co_return co_await ex.SendEmpty(HttpStatusFor(state.status().code()), TusHeaders());
  }
  Headers headers = TusHeaders();
  headers.push_back({"Upload-Offset", std::to_string(state->offset)});
  headers.push_back({"Upload-Length", std::to_string(state->video.size_bytes)});
  co_await ex.SendEmpty(200, std::move(headers));
}

asio::awaitable<void> Api::TusPatch(Exchange& ex, const std::string& id) {
  if (AsciiLower(ex.header(bhttp::field::content_type)) != "application/offset+octet-stream") {
    ex.close_after();
    co_return co_await ex.SendError(415, "unsupported_media_type",
                                    "PATCH bodies are 'application/offset+octet-stream'.");
  }
  auto claimed = ParseNonNegative(ex.header("Upload-Offset"));
  if (!claimed) {
    ex.close_after();
    co_return co_await ex.SendError(400, "invalid_argument", "Upload-Offset is missing.");
  }
  if (!uploads_.TryLock(id)) {
    ex.close_after();
    co_return co_await ex.SendError(409, "upload_locked",
                                    "Another request is writing this upload; wait and resume.");
  }
  // Released before the response goes out: a client sends its next PATCH the moment it has the
  // answer, and must not find the upload still locked.
  struct Unlocker {
    Uploads* u;
    std::string id;
    bool held = true;
    void Now() {
      if (std::exchange(held, false)) u->Unlock(id);
    }
    ~Unlocker() { Now(); }
  } unlock{&uploads_, id};

  auto find = [this, id] { return uploads_.Find(id); };
  auto state = co_await ex.Blocking(std::move(find));
  if (!state.ok()) {
    ex.close_after();
    unlock.Now();
    co_return co_await ex.SendError(state.status());
  }
  const queue::Video video = state->video;
  const int64_t offset = state->offset;
  if (*claimed != offset) {
    ex.close_after();
    unlock.Now();
    co_return co_await ex.SendError(409, "offset_mismatch",
                                    "The upload is at byte " + std::to_string(offset) +
                                        "; send a HEAD request and resume from there.");
  }
  const int64_t room = video.size_bytes - offset;
  if (room == 0) {  // already complete
    Headers headers = TusHeaders();
    headers.push_back({"Upload-Offset", std::to_string(offset)});
    ex.close_after();
    unlock.Now();
    co_return co_await ex.SendEmpty(204, std::move(headers));
  }
  if (auto n = ex.content_length(); n && static_cast<int64_t>(*n) > room) {
    ex.close_after();
    unlock.Now();
    co_return co_await ex.SendError(413, "too_large_file", "The body goes past Upload-Length.");
  }
  auto open = [this, id, offset] { return uploads_.OpenPart(id, offset); };
  auto opened = co_await ex.Blocking(std::move(open));
  if (!opened.ok()) {
    ex.close_after();
    unlock.Now();
    co_return co_await ex.SendError(opened.status());
  }
  std::unique_ptr<storage::BlobWriter> writer = std::move(opened).value();
  int64_t received = 0;
  auto append = [&writer, &received, room](const char* data, size_t size) {
    if (received + static_cast<int64_t>(size) > room) {
      return Status(ErrorCode::kTooLargeFile, "The body goes past Upload-Length.");
    }
    received += static_cast<int64_t>(size);
    return writer->Append(data, size);
  };
  auto body = co_await ex.StreamBody(std::move(append));
  metrics_.AddUploadBytes(received);
  const bool cut = !body.ok() && body.status().code() == ErrorCode::kInputReadFailed;
  // What arrived is kept even when the connection was cut: the client resumes from there.
  auto finish = [&writer, &body, cut, received, offset, this, video]() -> Result<int64_t> {
    int64_t stored = 0;
    if (received > 0 && (body.ok() || cut)) {
      RETURN_IF_ERROR(writer->Commit());
      stored = received;
    } else {
      writer.reset();
    }
    if (!body.ok() && !cut) return body.status();
    return uploads_.AfterPatch(video, offset + stored);
  };
  auto after = co_await ex.Blocking(std::move(finish));
  if (cut) {
    LogInfo("upload paused", {{"video", id}, {"bytes", received}});
    unlock.Now();
    co_return co_await ex.SendError(body.status());  // the client is gone: nobody reads this
  }
  if (!after.ok()) {
    metrics_.UploadFinished(false);
    unlock.Now();
    co_return co_await ex.SendError(after.status());
  }
  if (after.value() == video.size_bytes) metrics_.UploadFinished(true);
  Headers headers = TusHeaders();
  headers.push_back({"Upload-Offset", std::to_string(after.value())});
  headers.push_back(
      {"Upload-Expires", HttpDate((video.created_at_ms + options_.uploads.expiry_ms) / 1000)});
  unlock.Now();
  co_await ex.SendEmpty(204, std::move(headers));
}

asio::awaitable<void> Api::TusDelete(Exchange& ex, const std::string& id) {
  auto removed = co_await RemoveUnlessLocked(ex, id);
  if (!removed) {
    co_return co_await ex.SendError(409, "upload_locked",
                                    "Another request is writing this upload; try again.");
  }
  if (!removed->ok()) {
    co_return co_await ex.SendEmpty(HttpStatusFor(removed->code()), TusHeaders());
  }
  co_await ex.SendEmpty(204, TusHeaders());
}

}  // namespace vidproc::http
