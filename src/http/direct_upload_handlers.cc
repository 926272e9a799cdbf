#include "core/log.h"
#include "core/text.h"
#include "core/units.h"
#include "http/api.h"
#include "http/direct_uploads.h"
#include "http/handlers.h"

namespace vidproc::http {
namespace {

constexpr int64_t kMaxCreateBodyBytes = 16 * 1024;

HeaderList TusHeaders() { return {{"Tus-Resumable", kTusVersion}, {"Cache-Control", "no-store"}}; }

HttpError NoSuchUploadUrl() {
  return HttpError{404, "not_found", "There is no upload at this address."};
}

// The URL's video was deleted (by the platform) before its upload began.
HttpError VideoDeleted() {
  return HttpError{404, "not_found", "The video of this upload URL was deleted."};
}

// The direct upload the request's URL opens: nullopt when there is none or the secret is wrong
// (the same answer, so that a guess learns nothing); an error when the database failed.
Result<std::optional<queue::DirectUpload>> OpenCapability(ApiServices& api, const std::string& id,
                                                          std::string_view secret) {
  auto upload = api.store->GetDirectUpload(id);
  if (!upload.ok()) {
    if (upload.status().code() == ErrorCode::kNotFound) return std::optional<queue::DirectUpload>();
    return upload.status();
  }
  if (!SecretMatches(secret, upload->secret_hash)) return std::optional<queue::DirectUpload>();
  return std::optional<queue::DirectUpload>(std::move(upload).value());
}

// Why a direct upload can no longer begin an upload (410), or nullopt when it can.
std::optional<HttpError> Gone(const queue::DirectUpload& upload, int64_t now_ms) {
  if (upload.used_at_ms) {
    return HttpError{410, "upload_url_used",
                     "This upload URL was used already: it accepts one upload. Ask for a new one."};
  }
  if (upload.expires_at_ms <= now_ms) {
    return HttpError{410, "upload_url_expired",
                     "This upload URL expired at " + FormatRfc3339(upload.expires_at_ms) +
                         ". Ask for a new one."};
  }
  return std::nullopt;
}

// The largest upload the URL accepts.
int64_t MaxBytes(const ApiServices& api, const queue::DirectUpload& upload) {
  return std::min(upload.max_bytes, api.options->uploads.max_upload_bytes);
}

// After a lost race for ConsumeDirectUpload: why (used, expired, or the video went away).
HttpError LostConsume(ApiServices& api, const std::string& id) {
  auto upload = api.store->GetDirectUpload(id);
  if (!upload.ok()) return NoSuchUploadUrl();
  if (auto gone = Gone(*upload, api.clock->NowMs())) return *gone;
  return VideoDeleted();
}

struct Opened {
  Status error;  // the database failed: nothing else is known
  std::optional<queue::DirectUpload> upload;
  std::optional<queue::Video> video;
};

// The capability and its video, read on the blocking pool.
asio::awaitable<Opened> Open(ApiServices& api, Exchange& ex, const std::string& id) {
  const std::string secret(SecretOfPath(ex.path()));
  auto open = [&api, id, secret]() -> Opened {
    Opened out;
    auto upload = OpenCapability(api, id, secret);
    if (!upload.ok()) {
      out.error = upload.status();
      return out;
    }
    out.upload = std::move(upload).value();
    if (!out.upload) return out;
    auto video = api.store->GetVideo(id);
    if (video.ok()) {
      out.video = std::move(video).value();
    } else if (video.status().code() != ErrorCode::kNotFound) {
      out.error = video.status();
    }
    return out;
  };
  co_return co_await ex.Blocking(std::move(open));
}

}  // namespace

asio::awaitable<void> ApplyCapabilityCors(ApiServices& api, Exchange& ex, const std::string& id) {
  HeaderList headers = {{"Vary", "Origin"}};
  const std::string origin = ex.header(bhttp::field::origin);
  if (!origin.empty()) {
    const auto& allowed = api.options->cors_origins;
    bool allows = CorsAllows(origin, allowed, "");
    if (!allows && IsId(id)) {  // perhaps the upload's own origin
      const std::string secret(SecretOfPath(ex.path()));
      auto own = [&api, id, secret]() -> std::string {
        auto upload = OpenCapability(api, id, secret);
        return upload.ok() && upload.value() ? upload.value()->cors_origin : "";
      };
      const std::string upload_origin = co_await ex.Blocking(std::move(own));
      allows = CorsAllows(origin, allowed, upload_origin);
    }
    const bool preflight =
        ex.method() == bhttp::verb::options && !ex.header("Access-Control-Request-Method").empty();
    if (allows) {
      HeaderList cors = CorsHeaders(origin, preflight);  // as sent: browsers compare it so
      headers.insert(headers.end(), cors.begin(), cors.end());
    }
  }
  ex.AddResponseHeaders(headers);
}

asio::awaitable<void> CreateDirectUpload(ApiServices& api, Exchange& ex,
                                         const std::string& /*id*/) {
  if (auto n = ex.content_length(); n && static_cast<int64_t>(*n) > kMaxCreateBodyBytes) {
    ex.close_after();
    co_return co_await ex.SendError(413, "too_large_file",
                                    "The request body is larger than a direct upload's settings "
                                    "can be (16 KiB).");
  }
  std::string body;
  auto collect = [&body](const char* data, size_t size) {
    if (body.size() + size > static_cast<size_t>(kMaxCreateBodyBytes)) {
      return Status(ErrorCode::kTooLargeFile, "The request body is larger than 16 KiB.");
    }
    body.append(data, size);
    return Status::Ok();
  };
  auto read = co_await ex.StreamBody(std::move(collect));
  if (!read.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(read.status());
  }
  auto parsed = ParseDirectUploadRequest(body, api.options->uploads.max_upload_bytes);
  if (auto* refusal = std::get_if<HttpError>(&parsed)) co_return co_await ex.SendError(*refusal);
  auto request = std::get<DirectUploadRequest>(std::move(parsed));
  auto check = [&api] { return api.admission->CheckNewVideo(api.store, 0); };
  if (auto refusal = co_await ex.Blocking(std::move(check))) {
    co_return co_await ex.SendError(*refusal);
  }

  const std::string secret = NewUploadSecret();
  queue::Video video;
  video.id = NewId();
  video.status = queue::VideoStatus::kWaitingForUpload;
  video.external_id = request.ids.external_id;
  video.metadata = request.ids.metadata;
  queue::DirectUpload upload;
  upload.video_id = video.id;
  upload.secret_hash = HashUploadSecret(secret);
  upload.max_bytes = request.max_bytes;
  upload.cors_origin = request.cors_origin;
  upload.expires_at_ms = api.clock->NowMs() + api.options->direct_upload_max_ms;
  auto create = [&api, video, upload] { return api.store->CreateDirectUpload(video, upload); };
  if (Status s = co_await ex.Blocking(std::move(create)); !s.ok()) {
    co_return co_await ex.SendError(s);
  }
  // The URL is absolute: the platform hands it to a browser on another origin. The secret is
  // never logged (the access log shows the route's pattern).
  std::string base = api.options->public_url;
  if (base.empty()) base = "http://" + ex.header(bhttp::field::host);
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string path = std::string(kDirectUploadsPath) + video.id + "/" + secret;
  LogInfo("direct upload created", {{"video", video.id},
                                    {"max_bytes", upload.max_bytes},
                                    {"expires_at", FormatRfc3339(upload.expires_at_ms)}});
  nlohmann::json out = {{"id", video.id},
                        {"upload_url", base + path},
                        {"expires_at", FormatRfc3339(upload.expires_at_ms)}};
  HeaderList location = {{"Location", "/api/v1/videos/" + video.id}};
  co_await ex.SendJson(201, out, std::move(location));
}

asio::awaitable<void> DirectUploadOptions(ApiServices& api, Exchange& ex,
                                          const std::string& /*id*/) {
  HeaderList headers = {{"Tus-Resumable", kTusVersion},
                        {"Tus-Version", kTusVersion},
                        {"Tus-Extension", "creation"},
                        {"Tus-Max-Size", std::to_string(api.options->uploads.max_upload_bytes)}};
  co_await ex.SendEmpty(204, std::move(headers));
}

asio::awaitable<void> DirectUploadTusCreate(ApiServices& api, Exchange& ex, const std::string& id) {
  Opened opened = co_await Open(api, ex, id);
  if (!opened.error.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(opened.error, TusHeaders());
  }
  if (!opened.upload) {
    ex.close_after();
    co_return co_await ex.SendError(NoSuchUploadUrl(), TusHeaders());
  }
  const queue::DirectUpload& upload = *opened.upload;
  if (auto gone = Gone(upload, api.clock->NowMs())) {
    ex.close_after();
    co_return co_await ex.SendError(*gone, TusHeaders());
  }
  if (!opened.video) {
    ex.close_after();
    co_return co_await ex.SendError(VideoDeleted(), TusHeaders());
  }
  auto length = ParseNonNegative(ex.header("Upload-Length"));
  if (!length || *length == 0) {
    ex.close_after();
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Upload-Length must be the file's size in bytes (deferred "
                                    "lengths are not supported).",
                                    TusHeaders());
  }
  if (*length > MaxBytes(api, upload)) {
    ex.close_after();
    co_return co_await ex.SendError(TooLargeUpload(MaxBytes(api, upload)), TusHeaders());
  }
  if (ex.content_length().value_or(0) > 0) {
    ex.close_after();  // creation-with-upload is not offered
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Create the upload with an empty POST, then PATCH its bytes.",
                                    TusHeaders());
  }
  auto check = [&api, n = *length] { return api.admission->CheckNewVideo(api.store, n); };
  if (auto refusal = co_await ex.Blocking(std::move(check))) {
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  const std::string metadata = ex.header("Upload-Metadata");
  std::string filename = MetadataValue(metadata, "filename");
  if (filename.empty()) filename = MetadataValue(metadata, "name");
  filename = SanitizeFilename(filename);
  auto begin = [&api, id, filename, n = *length]() -> std::optional<HttpError> {
    auto won = api.store->ConsumeDirectUpload(id);
    if (!won.ok()) return ToHttpError(won.status());
    if (!*won) return LostConsume(api, id);
    if (Status s = api.store->StartDirectUpload(id, filename, n); !s.ok()) return ToHttpError(s);
    return std::nullopt;
  };
  if (auto refusal = co_await ex.Blocking(std::move(begin))) {
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  LogInfo("direct upload begun", {{"video", id}, {"filename", filename}, {"bytes", *length}});
  HeaderList headers = TusHeaders();
  // The same URL continues the upload: it stays the only credential the client holds.
  headers.push_back({"Location", std::string(ex.path())});
  headers.push_back(
      {"Upload-Expires",
       HttpDate((opened.video->created_at_ms + api.options->uploads.expiry_ms) / 1000)});
  co_await ex.SendEmpty(201, std::move(headers));
}

namespace {

// HEAD and PATCH continue a tus upload the URL created: why not, or nullopt.
std::optional<HttpError> NotATusUpload(const Opened& opened) {
  if (!opened.error.ok()) return ToHttpError(opened.error);
  if (!opened.upload) return NoSuchUploadUrl();
  if (!opened.video) return VideoDeleted();
  if (opened.video->status == queue::VideoStatus::kWaitingForUpload) {
    return HttpError{404, "not_found",
                     "No upload was created at this URL yet: POST to it first (tus creation), or "
                     "PUT the whole file."};
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> DirectUploadTusHead(ApiServices& api, Exchange& ex, const std::string& id) {
  Opened opened = co_await Open(api, ex, id);
  if (auto refusal = NotATusUpload(opened)) {
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  co_await TusHead(api, ex, id);
}

asio::awaitable<void> DirectUploadTusPatch(ApiServices& api, Exchange& ex, const std::string& id) {
  Opened opened = co_await Open(api, ex, id);
  if (auto refusal = NotATusUpload(opened)) {
    ex.close_after();
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  co_await TusPatch(api, ex, id);
}

asio::awaitable<void> DirectUploadPut(ApiServices& api, Exchange& ex, const std::string& id) {
  Opened opened = co_await Open(api, ex, id);
  if (!opened.error.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(opened.error);
  }
  if (!opened.upload) {
    ex.close_after();
    co_return co_await ex.SendError(NoSuchUploadUrl());
  }
  const int64_t max = MaxBytes(api, *opened.upload);
  if (auto gone = Gone(*opened.upload, api.clock->NowMs())) {
    ex.close_after();
    co_return co_await ex.SendError(*gone);
  }
  if (!opened.video) {
    ex.close_after();
    co_return co_await ex.SendError(VideoDeleted());
  }
  std::optional<Admission::UploadSlot> slot = co_await api.AdmitWholeUpload(ex, max);
  if (!slot) co_return;
  // Used from here on, whatever happens to the body: one PUT wins, the others get 410.
  auto consume = [&api, id]() -> std::optional<HttpError> {
    auto won = api.store->ConsumeDirectUpload(id);
    if (!won.ok()) return ToHttpError(won.status());
    if (!*won) return LostConsume(api, id);
    return std::nullopt;
  };
  if (auto refusal = co_await ex.Blocking(std::move(consume))) {
    ex.close_after();
    co_return co_await ex.SendError(*refusal);
  }
  // Held while the body streams: the sweeper leaves a video being written alone.
  auto lock = api.uploads->TryLock(id);
  const std::string filename = SanitizeFilename(UrlDecode(ex.header("X-Filename")));
  auto open = [&api, id] { return api.uploads->OpenOriginal(id); };
  auto writer_or = co_await ex.Blocking(std::move(open));
  if (!writer_or.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(writer_or.status());
  }
  std::unique_ptr<storage::BlobWriter> writer = std::move(writer_or).value();
  int64_t stored = 0;
  auto store_bytes = [&writer, &stored, max](const char* data, size_t size) {
    if (stored + static_cast<int64_t>(size) > max) return TooLargeUpload(max);
    stored += static_cast<int64_t>(size);
    return writer->Append(data, size);
  };
  auto body = co_await ex.StreamBody(std::move(store_bytes));
  api.metrics->AddUploadBytes(stored);
  Status result = body.ok() ? Status::Ok() : body.status();
  if (result.ok() && stored == 0) {
    result = Status(ErrorCode::kEmptyFile, "The uploaded file is empty.");
  }
  if (!result.ok()) {
    api.metrics->UploadFinished(false);
    auto abandon = [&writer] {
      writer.reset();
      return 0;
    };
    co_await ex.Blocking(std::move(abandon));
    slot.reset();
    ex.close_after();
    LogInfo("direct upload failed", {{"video", id},
                                     {"bytes", stored},
                                     {"reason", std::string(result.code_name())},
                                     {"request_id", ex.request_id()}});
    co_return co_await ex.SendError(result);
  }
  auto commit = [&api, &writer, id, filename, stored]() -> Result<queue::Video> {
    RETURN_IF_ERROR(writer->Commit());
    RETURN_IF_ERROR(api.store->StartDirectUpload(id, filename, stored));
    RETURN_IF_ERROR(api.store->MarkUploaded(id, stored));
    return api.store->GetVideo(id);
  };
  auto video = co_await ex.Blocking(std::move(commit));
  slot.reset();
  lock.reset();
  api.metrics->UploadFinished(video.ok());
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("queued", {{"video", id}, {"filename", video->filename}, {"bytes", stored}});
  HeaderList location = {{"Location", "/api/v1/videos/" + id}};
  co_await ex.SendJson(201, api.Render(video.value()), std::move(location));
}

}  // namespace vidproc::http
