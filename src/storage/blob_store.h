// Where uploaded originals, processed videos and thumbnails live: a key-value store of files.
// Keys are relative, slash-separated paths made by vidproc itself ("videos/{id}/video.mp4"),
// never from a name a user sent, with one exception: an import's source key, an object of the
// platform's in a shared bucket (CheckSourceKey), read and written only with S3Store (the API
// and the worker refuse imports by key on local storage). Implementations: LocalStore (a
// directory) and S3Store (a bucket of any S3-compatible service); both pass the conformance suite
// in tests/storage/blob_store_conformance.h. FaultInjectingStore wraps either for tests.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vidproc::storage {

struct BlobInfo {
  int64_t size_bytes = 0;
  std::string content_type;  // as given to Put, if the store keeps it ("" otherwise)
};

// How a client can fetch a blob directly.
struct ServeLocation {
  std::string local_path;     // set by stores on this machine's disk: serve the file directly
  std::string presigned_url;  // set by remote stores: redirect the client there
};

// A blob being written piece by piece (an upload streaming in). Nothing is visible under the key
// until Commit() succeeds; destroying an uncommitted writer discards what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(const char* data, size_t size) = 0;
  // Makes the blob visible and durable. The writer is finished afterwards, whatever the result.
  virtual Status Commit() = 0;
  virtual int64_t bytes_written() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Starts a streaming write of `key`; memory use does not depend on the blob's size.
  virtual Result<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key,
                                                         const std::string& content_type) = 0;
  // Stores the file at `local_path` under `key`, replacing any blob there. Atomic: readers see
  // the old blob or the whole new one, never part of it. Durable once it returns OK.
  virtual Status PutFile(const std::string& key, const std::string& local_path,
                         const std::string& content_type) = 0;
  // PutFile of a processed output under a key vidproc did not make (an import's source key,
  // replaced): stored as the processed outputs are (public with public-read storage).
  virtual Status PutOutputFile(const std::string& key, const std::string& local_path,
                               const std::string& content_type) {
    return PutFile(key, local_path, content_type);
  }
  // Writes the blob to `local_path` (replacing it). not found: ErrorCode::kNotFound.
  virtual Status GetFile(const std::string& key, const std::string& local_path) = 0;
  // Up to `length` bytes from `offset` (fewer at the end of the blob).
  virtual Result<std::string> ReadRange(const std::string& key, int64_t offset, int64_t length) = 0;
  // nullopt when there is no blob under `key`.
  virtual Result<std::optional<BlobInfo>> Stat(const std::string& key) = 0;
  // Deleting a key that does not exist is OK (idempotent).
  virtual Status Delete(const std::string& key) = 0;
  // Keys that start with `prefix`, sorted.
  virtual Result<std::vector<std::string>> List(const std::string& prefix) = 0;
  // Where a client can fetch the blob; `expiry_s` bounds a presigned URL's life.
  virtual Result<ServeLocation> Locate(const std::string& key, int expiry_s) = 0;
  // A local path the blob can be read from in place, when the store is on this disk.
  virtual std::optional<std::string> LocalPathFor(const std::string& key) = 0;
  // Short name for logs and `vidproc config` ("local:/var/lib/vidproc", "s3:bucket").
  virtual std::string Describe() const = 0;
};

// True for keys vidproc accepts: non-empty, relative, [A-Za-z0-9._-] segments separated by '/',
// no "." or ".." segment, at most 512 bytes.
bool IsValidKey(const std::string& key);

// A key the uploading platform named (an import's `source_key`): an object of the platform's in
// the same bucket. OK, or kInvalidArgument saying why not: empty, over 1024 bytes, not UTF-8, a
// control or bidirectional formatting character, a leading or trailing '/', an empty, "." or
// ".." segment, or under vidproc's own keys ("videos/", "uploads/", "readyz-probe").
Status CheckSourceKey(const std::string& key);
// Where the thumbnail of a replaced source goes: beside it, the key's extension replaced by
// ".jpg" ("media/trip.mov" -> "media/trip.jpg", "media/trip" -> "media/trip.jpg"); a key that
// already ends in ".jpg" gets ".thumbnail.jpg" instead, so the video is never overwritten.
std::string ThumbnailKeyBeside(const std::string& source_key);

// The fixed keys of a video's blobs.
std::string OriginalKey(const std::string& video_id);
std::string VideoKey(const std::string& video_id);
std::string ThumbnailKey(const std::string& video_id);
// The smaller copies of the thumbnail, made from the same picture by the job (never wider than the
// thumbnail itself): what `GET .../thumbnail?width=N` and the resource's `thumbnails` serve.
// Always under the video's own keys, also when an import replaced its source.
inline constexpr std::array<int, 3> kThumbnailWidths = {160, 320, 640};
bool IsThumbnailWidth(int width);
std::string ThumbnailVariantKey(const std::string& video_id, int width);
// HLS made from the same encode (media/hls_output.h), always under the video's own keys:
// "videos/{id}/hls/master.m3u8", "720p.m3u8", "720p-init.mp4", "720p-00000.m4s", ...
std::string HlsPrefix(const std::string& video_id);
std::string HlsKey(const std::string& video_id, const std::string& name);
// True only for the names the engine gives HLS files (a name is checked before it becomes a key:
// the directory it is read from was written by the sandboxed child).
bool IsHlsFileName(std::string_view name);
std::string HlsContentType(std::string_view name);
// The storyboard (scrub previews): its WebVTT index and JPEG sheets 1..n beside it, always under
// the video's own keys ("videos/{id}/storyboard/storyboard.vtt", ".../storyboard-1.jpg").
// Storyboards have at most ~200 tiles of 100 per sheet: the cap leaves room, and bounds what a
// key can name.
inline constexpr int kMaxStoryboardSheets = 10;
std::string StoryboardPrefix(const std::string& video_id);
std::string StoryboardKey(const std::string& video_id);
std::string StoryboardSheetKey(const std::string& video_id, int sheet);
// The file name of sheet `sheet` ("storyboard-3.jpg"), and its inverse: the sheet a name stands
// for, only in its one spelling and within 1..kMaxStoryboardSheets (nullopt otherwise).
std::string StoryboardSheetName(int sheet);
std::optional<int> StoryboardSheetNumber(std::string_view name);
// Where a ready video's processed outputs are: its own keys, or, when an import replaced its
// source (`replaced_source_key` not empty), that key and the thumbnail beside it.
struct OutputKeys {
  std::string video;
  std::string thumbnail;
};
OutputKeys OutputKeysOf(const std::string& video_id, const std::string& replaced_source_key);
// True for the processed outputs (VideoKey, ThumbnailKey, ThumbnailVariantKey, HLS,
// StoryboardKey, StoryboardSheetKey): the only blobs
// that SPACES_PUBLIC_READ makes public. Originals and upload parts stay private whatever the
// setting.
bool IsProcessedOutputKey(const std::string& key);

}  // namespace vidproc::storage
