#include <sys/stat.h>

#include <functional>
#include <vector>

#include "core/units.h"
#include "http/api.h"
#include "http/handlers.h"
#include "storage/s3_store.h"
#include "storage/storyboard_vtt.h"

namespace vidproc::http {

namespace {

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

// The video, if it is ready: its outputs exist only then.
Result<queue::Video> ReadyVideo(ApiServices& api, const std::string& id) {
  auto video = api.store->GetVideo(id);
  if (!video.ok()) return video.status();
  if (video->status != queue::VideoStatus::kReady) {
    return Status(ErrorCode::kInvalidState, "The video is " +
                                                std::string(StatusName(video->status)) +
                                                ", not ready: there is nothing to play yet.");
  }
  return video;
}

// Which blob of a ready video a request asks for.
using KeyOf = std::function<Result<std::string>(const queue::Video& video)>;

asio::awaitable<void> ServeMedia(ApiServices& api, Exchange& ex, const std::string& id,
                                 const char* content_type, KeyOf key_of) {
  struct Found {
    Status status;
    storage::ServeLocation where;
    int64_t size = 0;
    int64_t mtime_ns = 0;
  };
  auto locate = [&api, id, key_of = std::move(key_of)] {
    Found f;
    auto video = ReadyVideo(api, id);
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
  // Named before the co_await (the GCC 12 caveat in docs/ARCHITECTURE.md).
  KeyOf key_of = [id](const queue::Video& video) {
    return Result<std::string>(
        storage::OutputKeysOf(id, video.replace_source ? video.import_key : "").video);
  };
  co_await ServeMedia(api, ex, id, "video/mp4", std::move(key_of));
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
    if (n > RecordedStoryboardSheets(video.output)) {
      return Status(ErrorCode::kNotFound, "This video has no such sheet.");
    }
    return storage::StoryboardSheetKey(id, n);
  };
  co_await ServeMedia(api, ex, id, "image/jpeg", std::move(key_of));
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
  KeyOf key_of = [width](const queue::Video& video) {
    const storage::OutputKeys keys =
        storage::OutputKeysOf(video.id, video.replace_source ? video.import_key : "");
    return Result<std::string>(ThumbnailKeyFor(video, width, keys.thumbnail));
  };
  co_await ServeMedia(api, ex, id, "image/jpeg", std::move(key_of));
}

}  // namespace vidproc::http
