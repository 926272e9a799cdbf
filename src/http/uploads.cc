#include "http/uploads.h"

#include "storage/hls_publication.h"

#include <cstdio>

#include "core/ids.h"
#include "core/log.h"
#include "core/text.h"

namespace vidproc::http {
namespace {

constexpr int64_t kCopyChunk = 8 << 20;

std::string PartsPrefix(const std::string& id) { return "uploads/" + id + "/"; }

std::string PartKey(const std::string& id, int64_t offset) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(offset));
  return PartsPrefix(id) + name;
}

}  // namespace

Result<std::unique_ptr<storage::BlobWriter>> Uploads::OpenOriginal(const std::string& id) {
  return blobs_->OpenWriter(storage::OriginalKey(id), "application/octet-stream");
}

Result<queue::Video> Uploads::Record(const std::string& id, const std::string& filename,
                                     int64_t size, const PlatformIds& ids) {
  queue::Video video;
  video.id = id;
  video.status = queue::VideoStatus::kQueued;
  video.filename = SanitizeFilename(filename);
  video.size_bytes = size;
  video.external_id = ids.external_id;
  video.metadata = ids.metadata;
  if (Status s = store_->CreateVideo(video); !s.ok()) {
    (void)blobs_->Delete(storage::OriginalKey(id));  // nothing half-recorded
    return s;
  }
  return store_->GetVideo(id);
}

Result<queue::Video> Uploads::RecordImport(const ImportRequest& request) {
  queue::Video video;
  video.id = NewId();
  video.status = queue::VideoStatus::kQueued;
  video.filename = request.filename;
  video.external_id = request.ids.external_id;
  video.metadata = request.ids.metadata;
  video.import_key = request.source_key;
  video.import_url = request.source_url;
  video.replace_source = request.replace_source;
  RETURN_IF_ERROR(store_->CreateVideo(video));
  return store_->GetVideo(video.id);
}

Result<queue::Video> Uploads::CreateResumable(const std::string& filename, int64_t length,
                                              const PlatformIds& ids) {
  queue::Video video;
  video.id = NewId();
  video.status = queue::VideoStatus::kUploading;
  video.filename = SanitizeFilename(filename);
  video.size_bytes = length;
  video.external_id = ids.external_id;
  video.metadata = ids.metadata;
  RETURN_IF_ERROR(store_->CreateVideo(video));
  return store_->GetVideo(video.id);
}

Result<std::vector<Uploads::Part>> Uploads::Parts(const std::string& id) {
  ASSIGN_OR_RETURN(auto keys, blobs_->List(PartsPrefix(id)));
  std::vector<Part> parts;
  for (const auto& key : keys) {
    std::string name = key.substr(key.rfind('/') + 1);
    if (name.size() != 20 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    ASSIGN_OR_RETURN(auto info, blobs_->Stat(key));
    if (!info) continue;  // deleted meanwhile
    parts.push_back({std::stoll(name), key, info->size_bytes});
  }
  return parts;  // List is sorted and offsets are zero-padded: in offset order
}

Result<int64_t> Uploads::Contiguous(const std::vector<Part>& parts) {
  int64_t covered = 0;
  for (const auto& part : parts) {
    if (part.offset > covered) break;  // a gap: never written by this server
    covered = std::max(covered, part.offset + part.size);
  }
  return covered;
}

Result<int64_t> Uploads::Offset(const queue::Video& video) {
  if (video.status != queue::VideoStatus::kUploading) return video.size_bytes;
  ASSIGN_OR_RETURN(auto parts, Parts(video.id));
  ASSIGN_OR_RETURN(int64_t offset, Contiguous(parts));
  return AfterPatch(video, offset);
}

Result<Uploads::State> Uploads::Find(const std::string& id) {
  ASSIGN_OR_RETURN(auto video, store_->GetVideo(id));
  ASSIGN_OR_RETURN(int64_t offset, Offset(video));
  return State{std::move(video), offset};
}

Result<std::unique_ptr<storage::BlobWriter>> Uploads::OpenPart(const std::string& id,
                                                               int64_t offset) {
  return blobs_->OpenWriter(PartKey(id, offset), "application/octet-stream");
}

Status Uploads::Assemble(const std::string& id, const std::vector<Part>& parts, int64_t length) {
  const std::string original = storage::OriginalKey(id);
  if (parts.size() == 1 && parts[0].offset == 0 && parts[0].size == length) {
    if (auto path = blobs_->LocalPathFor(parts[0].key)) {
      return blobs_->PutFile(original, *path, "application/octet-stream");  // a link, no copy
    }
  }
  ASSIGN_OR_RETURN(auto writer, blobs_->OpenWriter(original, "application/octet-stream"));
  int64_t position = 0;
  for (const auto& part : parts) {
    int64_t from = position - part.offset;  // skip bytes an earlier part already gave
    while (from < part.size && position < length) {
      ASSIGN_OR_RETURN(std::string bytes, blobs_->ReadRange(part.key, from, kCopyChunk));
      if (bytes.empty()) {
        return Status(ErrorCode::kStorageUnavailable,
                      "Part " + part.key + " is shorter than it was; try the upload again.");
      }
      size_t take = static_cast<size_t>(std::min<int64_t>(bytes.size(), length - position));
      RETURN_IF_ERROR(writer->Append(bytes.data(), take));
      from += static_cast<int64_t>(bytes.size());
      position += static_cast<int64_t>(take);
    }
  }
  if (position != length) {
    return Status(ErrorCode::kInternal, "The upload's parts do not add up to its length.");
  }
  return writer->Commit();
}

Result<int64_t> Uploads::AfterPatch(const queue::Video& video, int64_t offset) {
  if (offset < video.size_bytes || video.size_bytes == 0) return offset;
  ASSIGN_OR_RETURN(auto parts, Parts(video.id));
  ASSIGN_OR_RETURN(offset, Contiguous(parts));
  if (offset < video.size_bytes) return offset;
  // Complete: the original first, then the record says so, then the parts go.
  RETURN_IF_ERROR(Assemble(video.id, parts, video.size_bytes));
  RETURN_IF_ERROR(store_->MarkUploaded(video.id, video.size_bytes));
  for (const auto& part : parts) {
    if (Status s = blobs_->Delete(part.key); !s.ok()) {
      LogWarning("cannot delete an upload part", {{"key", part.key}, {"reason", s.message()}});
    }
  }
  LogInfo("queued", {{"video", video.id}, {"filename", video.filename}, {"bytes", offset}});
  return video.size_bytes;
}

Status Uploads::Delete(const std::string& id) {
  // The record first: a worker running the job loses its lease and stops at its next renewal.
  RETURN_IF_ERROR(store_->DeleteVideo(id));
  std::vector<std::string> keys = {storage::OriginalKey(id), storage::VideoKey(id),
                                   storage::ThumbnailKey(id)};
  for (int w : storage::kThumbnailWidths) keys.push_back(storage::ThumbnailVariantKey(id, w));
  // The storyboard's index and sheets: what is there, or every name one can have.
  if (auto storyboard = blobs_->List(storage::StoryboardPrefix(id)); storyboard.ok()) {
    keys.insert(keys.end(), storyboard->begin(), storyboard->end());
  } else {
    keys.push_back(storage::StoryboardKey(id));
    for (int n = 1; n <= storage::kMaxStoryboardSheets; ++n) {
      keys.push_back(storage::StoryboardSheetKey(id, n));
    }
  }
  if (auto parts = blobs_->List(PartsPrefix(id)); parts.ok()) {
    keys.insert(keys.end(), parts->begin(), parts->end());
  }
  for (const auto& key : keys) {
    if (Status s = blobs_->Delete(key); !s.ok()) {
      LogWarning("cannot delete a blob of a deleted video",
                 {{"key", key}, {"reason", s.message()}});
    }
  }
  if (Status s = storage::WithdrawHls(blobs_, id); !s.ok()) {
    LogWarning("cannot delete the HLS of a deleted video",
               {{"video", id}, {"reason", s.message()}});
  }
  return Status::Ok();
}

int Uploads::RemoveExpired() {
  int removed = 0;
  int64_t cutoff = clock_->NowMs() - options_.expiry_ms;
  std::string cursor;
  std::vector<std::string> expired;
  do {
    auto page = store_->ListVideos({.status = queue::VideoStatus::kUploading, .external_id = ""},
                                   200, cursor);
    if (!page.ok()) return removed;
    for (const auto& v : page->videos) {
      if (v.created_at_ms < cutoff) expired.push_back(v.id);
    }
    cursor = page->next_cursor;
  } while (!cursor.empty());
  for (const auto& id : expired) {
    auto lock = TryLock(id);
    if (!lock) continue;  // being written right now
    if (Delete(id).ok()) {
      ++removed;
      LogInfo("expired upload removed", {{"video", id}});
    }
  }
  return removed;
}

int Uploads::RemoveExpiredDirectUploads() {
  int removed = 0;
  while (true) {
    auto expired = store_->ListExpiredDirectUploads(options_.expiry_ms, 200);
    if (!expired.ok()) {
      LogWarning("cannot list expired direct uploads", {{"reason", expired.status().message()}});
      return removed;
    }
    int this_round = 0;
    for (const auto& id : *expired) {
      auto lock = TryLock(id);
      if (!lock) continue;  // its upload is being written right now
      if (Status s = Delete(id); s.ok()) {
        ++removed;
        ++this_round;
        LogInfo("expired direct upload removed", {{"video", id}});
      }
    }
    if (expired->size() < 200 || this_round == 0) return removed;
  }
}

std::optional<Uploads::Lock> Uploads::TryLock(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (!locked_.insert(id).second) return std::nullopt;
  return Lock(this, id);
}

Uploads::Lock::~Lock() {
  if (!uploads_) return;
  std::lock_guard lock(uploads_->mutex_);
  uploads_->locked_.erase(id_);
}

}  // namespace vidproc::http
