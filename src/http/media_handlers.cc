#include <sys/stat.h>

#include "core/units.h"
#include "http/api.h"
#include "http/handlers.h"

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

// `thumbnail_width`: 0 for the thumbnail as made, else one of storage::kThumbnailWidths.
asio::awaitable<void> ServeMedia(ApiServices& api, Exchange& ex, const std::string& id,
                                 bool thumbnail, int thumbnail_width = 0) {
  struct Found {
    Status status;
    storage::ServeLocation where;
    int64_t size = 0;
    int64_t mtime_ns = 0;
  };
  auto locate = [&api, id, thumbnail, thumbnail_width] {
    Found f;
    auto video = api.store->GetVideo(id);
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
    const storage::OutputKeys keys =
        storage::OutputKeysOf(id, video->replace_source ? video->import_key : "");
    const std::string key =
        thumbnail ? ThumbnailKeyFor(*video, thumbnail_width, keys.thumbnail) : keys.video;
    auto where = api.blobs->Locate(key, api.options->presign_expiry_s);
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
  HeaderList headers = {{"Content-Type", thumbnail ? "image/jpeg" : "video/mp4"},
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

}  // namespace

asio::awaitable<void> ServeVideoFile(ApiServices& api, Exchange& ex, const std::string& id) {
  co_await ServeMedia(api, ex, id, false);
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
  co_await ServeMedia(api, ex, id, true, width);
}

}  // namespace vidproc::http
