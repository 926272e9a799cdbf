#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <vector>
#include "core/units.h"

#include "http/api.h"
#include "http/handlers.h"
#include "http/hls_playlist.h"
#include "storage/s3_store.h"
#include "storage/storyboard_vtt.h"

namespace vidproc::http {

namespace {

constexpr int64_t kMaxServedPlaylistBytes = 4 << 20;

// Whether the ready video's stored outputs include `kind` ("mp4", "hls"); videos processed before
// VIDPROC_OUTPUTS existed have the MP4 only.
bool HasOutput(const queue::Video& video, const std::string& kind) {
  if (!video.output.is_object()) return false;
  const auto outputs = video.output.value("outputs", nlohmann::json());
  if (!outputs.is_array()) return kind == "mp4";
  return std::find(outputs.begin(), outputs.end(), kind) != outputs.end();
}

// HLS can be played: published by the running job, or stored with the ready video.
bool HlsPlayable(const queue::Video& video) {
  return (video.status == queue::VideoStatus::kProcessing && video.playable) ||
         (video.status == queue::VideoStatus::kReady && HasOutput(video, "hls"));
}

// The key of the picture asked for: a smaller copy when the job made one of that width. A video
// whose thumbnail is narrower than `width`, or that was processed before the copies existed, has
// none: its thumbnail is the closest there is.
std::string ThumbnailKeyFor(const queue::Video& video, int width, const std::string& full_key) {
  if (width > 0 && video.output.is_object()) {
    for (const auto& w : video.output.value("thumbnail_widths", nlohmann::json::array())) {
      if (w.is_number_integer() && w.get<int>() == width) {
        return storage::ThumbnailVariantKey(video.id, width);
      }
    }
  }
  return full_key;
}

Status NotReady(const queue::Video& video) {
  return Status(ErrorCode::kInvalidState, "The video is " + std::string(StatusName(video.status)) +
                                              ", not ready: there is nothing to play yet.");
}

// The video, if it is ready: its outputs exist only then.
Result<queue::Video> ReadyVideo(ApiServices& api, const std::string& id) {
  auto video = api.store->GetVideo(id);
  if (!video.ok()) return video.status();
  if (video->status != queue::VideoStatus::kReady) return NotReady(*video);
  return video;
}

// The blob a media request names, for a video in a state that has it; or why not.
using KeyOf = std::function<Result<std::string>(const queue::Video&)>;

// Serves one stored blob: from this disk (ETag, Range) or by a redirect to a presigned URL.
// `cross_origin`: readable by scripts of any page (hls.js fetches what it plays); the URL is the
// credential, so this grants nothing the URL's holder did not have.
asio::awaitable<void> ServeBlob(ApiServices& api, Exchange& ex, const std::string& id, KeyOf key_of,
                                std::string content_type, bool cross_origin = false) {
  struct Found {
    Status status;
    storage::ServeLocation where;
    int64_t size = 0;
    int64_t mtime_ns = 0;
  };
  auto locate = [&api, id, key_of = std::move(key_of)] {
    Found f;
    auto video = api.store->GetVideo(id);
    if (!video.ok()) {
      f.status = video.status();
      return f;
    }
    auto key = key_of(*video);
    if (!key.ok()) {
      f.status = key.status();
      return f;
    }
    auto where = api.blobs->Locate(*key, api.options->presign_expiry_s);
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
    HeaderList redirect = {{"Location", found.where.presigned_url}, {"Cache-Control", "no-store"}};
    co_return co_await ex.SendEmpty(302, std::move(redirect));
  }
  const std::string etag =
      "\"" + std::to_string(found.size) + "-" + std::to_string(found.mtime_ns) + "\"";
  HeaderList headers = {{"Content-Type", content_type},
                        {"Accept-Ranges", "bytes"},
                        {"ETag", etag},
                        {"Last-Modified", HttpDate(found.mtime_ns / 1'000'000'000)},
                        {"Cache-Control", "private, max-age=3600"}};
  if (cross_origin) headers.push_back({"Access-Control-Allow-Origin", "*"});
  if (EtagListMatches(ex.header(bhttp::field::if_none_match), etag)) {
    HeaderList not_modified = {{"ETag", etag}, {"Cache-Control", "private, max-age=3600"}};
    co_return co_await ex.SendEmpty(304, std::move(not_modified));
  }
  std::string range = ex.header(bhttp::field::range);
  std::string if_range = ex.header(bhttp::field::if_range);
  if (!if_range.empty() && if_range != etag) range.clear();  // changed since: send it whole
  auto r = ParseRange(range, found.size);
  if (!r) {
    HeaderList unsatisfiable = {{"Content-Range", "bytes */" + std::to_string(found.size)},
                                {"Accept-Ranges", "bytes"}};
    co_return co_await ex.SendError(416, "range_not_satisfiable",
                                    "The Range asked for starts past the end of the file.",
                                    std::move(unsatisfiable));
  }
  if (r->partial) {
    headers.push_back({"Content-Range", "bytes " + std::to_string(r->offset) + "-" +
                                            std::to_string(r->offset + r->length - 1) + "/" +
                                            std::to_string(found.size)});
  }
  co_await ex.SendFile(r->partial ? 206 : 200, found.where.local_path, r->offset, r->length,
                       std::move(headers));
}

// The storyboard's index with every sheet at a URL the client can fetch from any page: the
// public object's, a presigned one, or this API's, signed for that one sheet.
Result<std::string> StoryboardIndexFor(ApiServices& api, const std::string& id) {
  ASSIGN_OR_RETURN(queue::Video video, ReadyVideo(api, id));
  const int sheets = RecordedStoryboardSheets(video.output);
  if (sheets == 0) return Status(ErrorCode::kNotFound, "This video has no storyboard.");
  ASSIGN_OR_RETURN(std::string text, api.blobs->ReadRange(storage::StoryboardKey(id), 0,
                                                          storage::kMaxStoryboardIndexBytes + 1));
  auto cues = storage::ParseStoryboardIndex(text, sheets);
  if (!cues.ok()) {
    // The worker stored it after the same check: storage changed under us, not the client's fault.
    return Status(ErrorCode::kInternal, "The stored storyboard index of " + id +
                                            " does not parse: " + cues.status().message());
  }
  std::string origin(api.options->public_url);
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  std::vector<std::string> urls(sheets + 1);
  for (int n = 1; n <= sheets; ++n) {
    const std::string key = storage::StoryboardSheetKey(id, n);
    if (!api.options->public_objects_url.empty()) {
      urls[n] = storage::PublicObjectUrl(api.options->public_objects_url, key);
      continue;
    }
    ASSIGN_OR_RETURN(storage::ServeLocation where,
                     api.blobs->Locate(key, api.options->presign_expiry_s));
    if (!where.presigned_url.empty()) {
      urls[n] = where.presigned_url;
    } else {
      const std::string path =
          "/api/v1/videos/" + id + "/storyboard/" + storage::StoryboardSheetName(n);
      urls[n] = origin + path + api.auth->SignQuery(path, api.NowS());
    }
  }
  return storage::FormatStoryboardIndex(*cues, [&urls](int n) { return urls[n]; });
}

}  // namespace

int RecordedStoryboardSheets(const nlohmann::json& output) {
  if (!output.is_object()) return 0;
  const auto storyboard = output.value("storyboard", nlohmann::json());
  if (!storyboard.is_object()) return 0;
  const auto sheets = storyboard.value("sheets", nlohmann::json());
  if (!sheets.is_number_integer()) return 0;
  const int64_t n = sheets.get<int64_t>();
  return n >= 1 && n <= storage::kMaxStoryboardSheets ? static_cast<int>(n) : 0;
}

asio::awaitable<void> ServeVideoFile(ApiServices& api, Exchange& ex, const std::string& id) {
  auto key_of = [id](const queue::Video& video) -> Result<std::string> {
    if (video.status != queue::VideoStatus::kReady) return NotReady(video);
    if (!HasOutput(video, "mp4")) {
      return Status(ErrorCode::kNotFound,
                    "This server stores HLS only (VIDPROC_OUTPUTS): play "
                    "the video's hls_url.");
    }
    return storage::OutputKeysOf(id, video.replace_source ? video.import_key : "").video;
  };
  co_await ServeBlob(api, ex, id, std::move(key_of), "video/mp4");
}

asio::awaitable<void> ServeStoryboard(ApiServices& api, Exchange& ex, const std::string& id) {
  const std::string path(ex.path());
  const std::string file = path.substr(path.rfind('/') + 1);
  if (file == "storyboard.vtt") {
    auto build = [&api, id] { return StoryboardIndexFor(api, id); };
    Result<std::string> index = co_await ex.Blocking(std::move(build));
    if (!index.ok()) co_return co_await ex.SendError(index.status());
    // The URLs in it are signed for a while: a client may keep it a few minutes, no longer.
    HeaderList headers = {{"Cache-Control", "private, max-age=300"}};
    co_return co_await ex.SendText(200, storage::kStoryboardIndexType, std::move(index).value(),
                                   std::move(headers));
  }
  const std::optional<int> sheet = storage::StoryboardSheetNumber(file);
  if (!sheet)
    co_return co_await ex.SendError(404, "not_found", "There is nothing at this address.");
  KeyOf key_of = [id, n = *sheet](const queue::Video& video) -> Result<std::string> {
    if (video.status != queue::VideoStatus::kReady) return NotReady(video);
    if (n > RecordedStoryboardSheets(video.output)) {
      return Status(ErrorCode::kNotFound, "This video has no such sheet.");
    }
    return storage::StoryboardSheetKey(id, n);
  };
  co_await ServeBlob(api, ex, id, std::move(key_of), "image/jpeg");
}

asio::awaitable<void> ServeThumbnail(ApiServices& api, Exchange& ex, const std::string& id) {
  int width = 0;
  if (auto asked = ex.query("width")) {
    auto parsed = ParseInteger(*asked, 1, 100'000);
    if (!parsed.ok() || !storage::IsThumbnailWidth(static_cast<int>(*parsed))) {
      std::string allowed;
      for (int w : storage::kThumbnailWidths) {
        allowed += (allowed.empty() ? "" : ", ") + std::to_string(w);
      }
      co_return co_await ex.SendError(
          400, "invalid_thumbnail_width",
          "The thumbnail width must be one of " + allowed + " (or left out for the full size).");
    }
    width = static_cast<int>(*parsed);
  }
  auto key_of = [id, width](const queue::Video& video) -> Result<std::string> {
    if (video.status != queue::VideoStatus::kReady) return NotReady(video);
    const std::string full =
        storage::OutputKeysOf(id, video.replace_source ? video.import_key : "").thumbnail;
    return ThumbnailKeyFor(video, width, full);
  };
  co_await ServeBlob(api, ex, id, std::move(key_of), "image/jpeg");
}

asio::awaitable<void> ServeHls(ApiServices& api, Exchange& ex, const std::string& id) {
  const std::string path(ex.path());
  const std::string name = path.substr(path.rfind('/') + 1);
  if (!storage::IsHlsFileName(name)) {
    co_return co_await ex.SendError(404, "not_found", "There is no such HLS file.");
  }
  auto key_of = [id, name](const queue::Video& video) -> Result<std::string> {
    if (!HlsPlayable(video)) {
      return Status(
          ErrorCode::kInvalidState,
          "The video is " + std::string(StatusName(video.status)) + " and has no HLS to play yet.");
    }
    return storage::HlsKey(id, name);
  };
  if (!name.ends_with(".m3u8")) {
    co_return co_await ServeBlob(api, ex, id, std::move(key_of), storage::HlsContentType(name),
                                 /*cross_origin=*/true);
  }
  // A playlist: read, its names turned into URLs that work on their own (hls_playlist.h).
  struct Read {
    Status status;
    std::string text;
  };
  auto read = [&api, id, key_of = std::move(key_of)] {
    Read r;
    auto video = api.store->GetVideo(id);
    auto key = video.ok() ? key_of(*video) : Result<std::string>(video.status());
    if (!key.ok()) return Read{key.status(), ""};
    auto text = api.blobs->ReadRange(*key, 0, kMaxServedPlaylistBytes);
    if (!text.ok()) {
      return Read{text.status().code() == ErrorCode::kNotFound
                      ? Status(ErrorCode::kNotFound, "The playlist is missing from storage.")
                      : text.status(),
                  ""};
    }
    r.text = std::move(text).value();
    const int64_t now = api.NowS();
    // Segments straight from the bucket when it has its own URLs (no hop through here). A store
    // on this disk has none: known from the first segment, not asked (a stat) for every one.
    bool local = false;
    r.text = RewritePlaylist(r.text, [&](const std::string& file) {
      if (!file.ends_with(".m3u8") && !local) {
        auto where = api.blobs->Locate(storage::HlsKey(id, file), api.options->presign_expiry_s);
        if (where.ok() && !where->presigned_url.empty()) return where->presigned_url;
        local = where.ok() && !where->local_path.empty();
      }
      const std::string route = "/api/v1/videos/" + id + "/hls/" + file;
      return route + api.auth->SignQuery(route, now);
    });
    return r;
  };
  Read r = co_await ex.Blocking(std::move(read));
  if (!r.status.ok()) co_return co_await ex.SendError(r.status);
  // A growing playlist is fetched again and again by the player: never cached.
  const bool ended = r.text.find("#EXT-X-ENDLIST") != std::string::npos;
  HeaderList headers = {
      {"Cache-Control", ended || name == "master.m3u8" ? "private, max-age=60" : "no-cache"},
      {"Access-Control-Allow-Origin", "*"}};
  co_await ex.SendText(200, storage::HlsContentType(name), std::move(r.text), std::move(headers));
}

}  // namespace vidproc::http
