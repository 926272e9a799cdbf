#include "core/ids.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/text.h"
#include "core/units.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/import_request.h"
#include "http/multipart.h"
#include "http/platform_ids.h"
#include "queue/video_json.h"
#include "storage/s3_store.h"

namespace vidproc::http {

namespace {

// The source key a ready import's outputs replaced, from the rendered record; "" otherwise.
std::string ReplacedSourceKey(const nlohmann::json& record) {
  const auto it = record.find("import");
  if (it == record.end() || !it->is_object() || !it->value("replace_source", false)) return "";
  const auto key = it->find("source_key");
  return key != it->end() && key->is_string() ? key->get<std::string>() : "";
}

// Whether any of `videos` is queued: only then is the queue looked at.
bool NeedsQueuePlaces(const std::vector<queue::Video>& videos) {
  return std::any_of(videos.begin(), videos.end(),
                     [](const queue::Video& v) { return v.status == queue::VideoStatus::kQueued; });
}

}  // namespace

nlohmann::json RenderVideo(nlohmann::json record, const Auth& auth, const MediaLinks& links,
                           int64_t now_s) {
  if (!record.is_object() || !record.value("id", nlohmann::json()).is_string()) return record;
  const std::string id = record["id"].get<std::string>();
  // The signature covers the path this server sees; a proxy in front strips the prefix.
  std::string origin(links.public_url);
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  auto signed_url = [&](const std::string& path) {
    return origin + path + auth.SignQuery(path, now_s);
  };
  // HLS plays as soon as the running job published its first segments.
  if (record.value("playable", false)) {
    record["hls_url"] = links.public_objects_url.empty()
                            ? signed_url("/api/v1/videos/" + id + "/hls/master.m3u8")
                            : storage::PublicObjectUrl(links.public_objects_url,
                                                       storage::HlsKey(id, "master.m3u8"));
  }
  if (record.value("status", "") != "ready") return record;
  // The thumbnail's smaller copies the job made, narrowest first (srcset-ready); whether the
  // progressive MP4 was stored (VIDPROC_OUTPUTS; older videos have only it).
  std::vector<int> widths;
  bool mp4 = true;
  if (const auto& output = record.value("output", nlohmann::json()); output.is_object()) {
    for (const auto& w : output.value("thumbnail_widths", nlohmann::json::array())) {
      if (w.is_number_integer() && storage::IsThumbnailWidth(w.get<int>())) {
        widths.push_back(w.get<int>());
      }
    }
    const auto outputs = output.value("outputs", nlohmann::json());
    mp4 = !outputs.is_array() || std::find(outputs.begin(), outputs.end(), "mp4") != outputs.end();
  }
  record["thumbnails"] = nlohmann::json::array();
  const bool storyboard = RecordedStoryboardSheets(record.value("output", nlohmann::json())) > 0;
  record["storyboard_url"] = nullptr;
  if (!links.public_objects_url.empty()) {
    // Unsigned and the same at every rendering: a page can cache them and a CDN can serve them.
    const storage::OutputKeys keys = storage::OutputKeysOf(id, ReplacedSourceKey(record));
    if (mp4) record["video_url"] = storage::PublicObjectUrl(links.public_objects_url, keys.video);
    record["thumbnail_url"] = storage::PublicObjectUrl(links.public_objects_url, keys.thumbnail);
    for (int w : widths) {
      record["thumbnails"].push_back(
          {{"width", w},
           {"url", storage::PublicObjectUrl(links.public_objects_url,
                                            storage::ThumbnailVariantKey(id, w))}});
    }
    // The stored index names its sheets relatively: beside it in the bucket, they resolve.
    if (storyboard) {
      record["storyboard_url"] =
          storage::PublicObjectUrl(links.public_objects_url, storage::StoryboardKey(id));
    }
    return record;
  }
  const std::string base = "/api/v1/videos/" + id;
  if (mp4) record["video_url"] = signed_url(base + "/video");
  record["thumbnail_url"] = signed_url(base + "/thumbnail");
  if (storyboard) record["storyboard_url"] = signed_url(base + "/storyboard/storyboard.vtt");
  // The signature covers the path, not the query: the width rides beside it.
  const std::string thumbnail = record["thumbnail_url"].get<std::string>();
  for (int w : widths) {
    record["thumbnails"].push_back(
        {{"width", w},
         {"url", thumbnail + (thumbnail.find('?') == std::string::npos ? "?" : "&") +
                     "width=" + std::to_string(w)}});
  }
  return record;
}

nlohmann::json ApiServices::Render(const queue::Video& video,
                                   const std::map<std::string, queue::QueuePlace>* places) const {
  nlohmann::json record = queue::ToApiJson(video);
  if (places && record["queue"].is_object()) {
    if (auto it = places->find(video.id); it != places->end()) {
      record["queue"]["position"] = it->second.position;
      if (it->second.predicted_start_ms) {
        record["queue"]["predicted_start_at"] = FormatRfc3339(*it->second.predicted_start_ms);
      }
    }
  }
  return RenderVideo(std::move(record), *auth,
                     MediaLinks{options->public_url, options->public_objects_url}, NowS());
}

Result<std::map<std::string, queue::QueuePlace>> ApiServices::QueuePlaces() const {
  // Places past this many queued jobs are not computed (null): a position in the thousands says
  // "a long wait" as well, and the look stays one bounded query per request.
  constexpr int kMaxQueueLook = 1000;
  constexpr int64_t kWorkerSeenWithinMs = 60'000;
  ASSIGN_OR_RETURN(auto jobs, store->ListQueue(kMaxQueueLook));
  ASSIGN_OR_RETURN(auto workers, store->ListWorkers(kWorkerSeenWithinMs));
  int slots = 0;
  for (const auto& w : workers) slots += std::max(w.slots, 0);
  return queue::ForecastQueue(jobs, slots, clock->NowMs());
}

Status TooLargeUpload(int64_t max_bytes) {
  return Status(ErrorCode::kTooLargeFile, "The upload is larger than this server accepts (" +
                                              std::to_string(max_bytes) + " bytes).");
}

asio::awaitable<std::optional<Admission::UploadSlot>> ApiServices::AdmitWholeUpload(
    Exchange& ex, int64_t max_bytes) {
  if (auto length = ex.content_length(); length && static_cast<int64_t>(*length) > max_bytes) {
    ex.close_after();
    co_await ex.SendError(TooLargeUpload(max_bytes));
    co_return std::nullopt;
  }
  auto admitted = admission->TryUpload(ex.client());
  if (admitted.second) {
    ex.close_after();
    co_await ex.SendError(*admitted.second);
    co_return std::nullopt;
  }
  auto check = [this] { return admission->CheckNewVideo(store, 0); };
  if (auto refusal = co_await ex.Blocking(std::move(check))) {
    ex.close_after();
    co_await ex.SendError(*refusal);
    co_return std::nullopt;
  }
  co_return std::move(admitted.first);
}

asio::awaitable<std::optional<Status>> ApiServices::RemoveUnlessLocked(Exchange& ex,
                                                                       const std::string& id) {
  auto lock = uploads->TryLock(id);
  if (!lock) co_return std::nullopt;
  auto remove = [this, id] { return uploads->Delete(id); };
  Status s = co_await ex.Blocking(std::move(remove));
  lock.reset();
  if (s.ok()) {
    LogInfo("deleted", {{"video", id}});
    hub->PublishDeleted(id);
  }
  co_return s;
}

asio::awaitable<void> ListVideos(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  std::optional<queue::VideoStatus> status;
  if (auto s = ex.query("status"); s && !s->empty()) {
    status = queue::ParseVideoStatus(*s);
    if (!status) {
      co_return co_await ex.SendError(
          400, "invalid_argument",
          "status must be one of waiting_for_upload, uploading, queued, processing, ready, "
          "failed.");
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
  queue::VideoFilter filter{status, ex.query("external_id").value_or("")};
  if (PlatformIdsCheck id = CheckPlatformIds(filter.external_id, ""); !id.ok()) {
    co_return co_await ex.SendError(*id.refusal);
  }
  std::string cursor = ex.query("cursor").value_or("");
  std::map<std::string, queue::QueuePlace> places;
  auto list = [&api, filter, limit, cursor, &places]() -> Result<queue::VideoPage> {
    ASSIGN_OR_RETURN(auto page, api.store->ListVideos(filter, limit, cursor));
    if (NeedsQueuePlaces(page.videos)) {
      ASSIGN_OR_RETURN(places, api.QueuePlaces());
    }
    return page;
  };
  auto page = co_await ex.Blocking(std::move(list));
  if (!page.ok()) co_return co_await ex.SendError(page.status());
  nlohmann::json videos = nlohmann::json::array();
  for (const auto& v : page->videos) videos.push_back(api.Render(v, &places));
  nlohmann::json out = {
      {"videos", videos},
      {"next_cursor",
       page->next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(page->next_cursor)}};
  co_await ex.SendJson(200, out);
}

asio::awaitable<void> GetVideo(ApiServices& api, Exchange& ex, const std::string& id) {
  std::map<std::string, queue::QueuePlace> places;
  auto get = [&api, id, &places]() -> Result<queue::Video> {
    ASSIGN_OR_RETURN(auto video, api.store->GetVideo(id));
    if (NeedsQueuePlaces({video})) {
      ASSIGN_OR_RETURN(places, api.QueuePlaces());
    }
    return video;
  };
  auto video = co_await ex.Blocking(std::move(get));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  co_await ex.SendJson(200, api.Render(video.value(), &places));
}

asio::awaitable<void> DeleteVideo(ApiServices& api, Exchange& ex, const std::string& id) {
  auto removed = co_await api.RemoveUnlessLocked(ex, id);
  if (!removed) {
    co_return co_await ex.SendError(409, "invalid_state",
                                    "The video is being uploaded right now; try again.");
  }
  if (!removed->ok()) co_return co_await ex.SendError(*removed);
  co_await ex.SendEmpty(204);
}

asio::awaitable<void> RetryVideo(ApiServices& api, Exchange& ex, const std::string& id) {
  auto retry = [&api, id]() -> Result<queue::Video> {
    RETURN_IF_ERROR(api.store->RetryVideo(id));
    return api.store->GetVideo(id);
  };
  auto video = co_await ex.Blocking(std::move(retry));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("retry queued", {{"video", id}});
  co_await ex.SendJson(202, api.Render(video.value()));
}

namespace {

// POST /api/v1/videos with a JSON body: an import (import_request.h). Recorded queued at once;
// a worker reads the original from where it is.
asio::awaitable<void> ImportVideo(ApiServices& api, Exchange& ex) {
  if (auto length = ex.content_length(); length && *length > kMaxImportBodyBytes) {
    ex.close_after();
    co_return co_await ex.SendError(
        400, kInvalidImport,
        "The JSON body is larger than " + std::to_string(kMaxImportBodyBytes) + " bytes.");
  }
  if (ex.query("external_id") || ex.query("metadata")) {
    ex.close_after();
    co_return co_await ex.SendError(
        400, "invalid_argument",
        "With a JSON body, send external_id and metadata as its members, not in the query string.");
  }
  std::string body;
  auto collect = [&body](const char* data, size_t size) {
    if (body.size() + size > kMaxImportBodyBytes) {
      return Status(
          ErrorCode::kInvalidArgument,
          "The JSON body is larger than " + std::to_string(kMaxImportBodyBytes) + " bytes.");
    }
    body.append(data, size);
    return Status::Ok();
  };
  auto read = co_await ex.StreamBody(std::move(collect));
  if (!read.ok()) {
    ex.close_after();
    if (read.status().code() == ErrorCode::kInvalidArgument) {
      co_return co_await ex.SendError(400, kInvalidImport, read.status().message());
    }
    co_return co_await ex.SendError(read.status());
  }
  ImportRequestCheck parsed = ParseImportRequest(body, api.options->source_keys);
  if (!parsed.ok()) co_return co_await ex.SendError(*parsed.refusal);
  auto check = [&api] { return api.admission->CheckNewVideo(api.store, 0); };
  if (auto refusal = co_await ex.Blocking(std::move(check))) {
    co_return co_await ex.SendError(*refusal);
  }
  const ImportRequest& request = parsed.request;
  auto record = [&api, &request] { return api.uploads->RecordImport(request); };
  auto video = co_await ex.Blocking(std::move(record));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  const bool by_key = !request.source_key.empty();
  LogInfo("import queued",
          {{"video", video->id},
           {by_key ? "key" : "url", by_key ? request.source_key : RedactedUrl(request.source_url)},
           {"replace_source", request.replace_source}});
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::accepted);
  res.set(bhttp::field::location, "/api/v1/videos/" + video->id);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = DumpJson(api.Render(video.value())) + "\n";
  co_await ex.Send(std::move(res));
}

}  // namespace

asio::awaitable<void> UploadVideo(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  if (AsciiLower(ex.header(bhttp::field::content_type)).rfind("application/json", 0) == 0) {
    co_return co_await ImportVideo(api, ex);
  }
  const int64_t max = api.options->uploads.max_upload_bytes;
  std::optional<Admission::UploadSlot> slot = co_await api.AdmitWholeUpload(ex, max);
  if (!slot) co_return;
  std::string type = AsciiLower(ex.header(bhttp::field::content_type));
  std::string filename;
  std::string boundary;
  // A raw body has no room for the platform's ids: they come as query parameters (multipart
  // sends them as form fields, read with the body).
  const std::optional<std::string> query_external_id = ex.query("external_id");
  const std::optional<std::string> query_metadata = ex.query("metadata");
  PlatformIdsCheck ids;
  if (type.rfind("multipart/form-data", 0) == 0) {
    auto parsed = MultipartParser::BoundaryOf(ex.header(bhttp::field::content_type));
    if (!parsed.ok()) {
      ex.close_after();
      co_return co_await ex.SendError(parsed.status());
    }
    if (query_external_id || query_metadata) {
      ex.close_after();
      co_return co_await ex.SendError(
          400, "invalid_argument",
          "With a multipart/form-data upload, send external_id and metadata as form fields, not "
          "in the query string.");
    }
    boundary = parsed.value();
  } else if (type.rfind("video/", 0) == 0 || type.rfind("application/octet-stream", 0) == 0) {
    filename = UrlDecode(ex.header("X-Filename"));
    ids = CheckPlatformIds(query_external_id.value_or(""), query_metadata.value_or(""));
    if (!ids.ok()) {
      ex.close_after();
      co_return co_await ex.SendError(*ids.refusal);
    }
  } else {
    ex.close_after();
    co_return co_await ex.SendError(
        415, "unsupported_media_type",
        "Send the file as multipart/form-data (field 'file'), or as the raw body with "
        "Content-Type video/* or application/octet-stream; or import it from where it is with "
        "a JSON body (application/json).");
  }

  const std::string id = NewId();
  auto open = [&api, id] { return api.uploads->OpenOriginal(id); };
  auto opened = co_await ex.Blocking(std::move(open));
  if (!opened.ok()) {
    ex.close_after();
    co_return co_await ex.SendError(opened.status());
  }
  std::unique_ptr<storage::BlobWriter> writer = std::move(opened).value();
  int64_t stored = 0;
  auto store_bytes = [&writer, &stored, max](const char* data, size_t size) {
    if (stored + static_cast<int64_t>(size) > max) {
      return TooLargeUpload(max);
    }
    stored += static_cast<int64_t>(size);
    return writer->Append(data, size);
  };
  Status result;
  if (!boundary.empty()) {
    MultipartParser parser(boundary, "file", store_bytes);
    parser.CaptureField("external_id", kMaxExternalIdBytes);
    parser.CaptureField("metadata", kMaxMetadataBytes);
    auto feed_form = [&parser](const char* data, size_t size) { return parser.Feed(data, size); };
    auto body = co_await ex.StreamBody(std::move(feed_form));
    result = body.ok() ? parser.Finish() : body.status();
    filename = parser.filename();
    ids = CheckPlatformIds(parser.field("external_id").value_or(""),
                           parser.field("metadata").value_or(""));
  } else {
    auto body = co_await ex.StreamBody(store_bytes);
    result = body.ok() ? Status::Ok() : body.status();
  }
  api.metrics->AddUploadBytes(stored);
  if (result.ok() && stored == 0) {
    result = Status(ErrorCode::kEmptyFile, "The uploaded file is empty.");
  }
  if (!result.ok() || !ids.ok()) {
    api.metrics->UploadFinished(false);
    // Abandoning the writer may be a storage call (an S3 multipart abort).
    auto abandon = [&writer] {
      writer.reset();
      return 0;
    };
    co_await ex.Blocking(std::move(abandon));
    slot.reset();  // before the answer: the client may send its next upload at once
    if (result.code() == ErrorCode::kInputReadFailed) {
      LogInfo("upload cut off", {{"bytes", stored}, {"request_id", ex.request_id()}});
    }
    if (!result.ok()) co_return co_await ex.SendError(result);
    co_return co_await ex.SendError(*ids.refusal);
  }
  auto commit = [&api, &writer, id, filename, stored,
                 ids = std::move(ids.ids)]() -> Result<queue::Video> {
    RETURN_IF_ERROR(writer->Commit());
    return api.uploads->Record(id, filename, stored, ids);
  };
  auto video = co_await ex.Blocking(std::move(commit));
  slot.reset();  // before the answer: the client may send its next upload at once
  api.metrics->UploadFinished(video.ok());
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("queued", {{"video", id}, {"filename", video->filename}, {"bytes", stored}});
  bhttp::response<bhttp::string_body> res;
  res.result(bhttp::status::created);
  res.set(bhttp::field::location, "/api/v1/videos/" + id);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = DumpJson(api.Render(video.value())) + "\n";
  co_await ex.Send(std::move(res));
}

}  // namespace vidproc::http
