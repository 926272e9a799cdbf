#include "storage/hls_publication.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace vidproc::storage {
namespace {

constexpr size_t kMaxPlaylistBytes = 4 << 20;  // hours of 4 s segments; more is not ours

bool IsPlaylist(const std::string& name) { return name.ends_with(".m3u8"); }

// The names in `dir` that the engine gives HLS files, sorted (segments in order).
Result<std::vector<std::string>> HlsFilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d && errno == ENOENT) return names;  // nothing written yet
  if (!d) return Status(ErrorCode::kInternal, "Cannot read the HLS directory " + dir + ".");
  while (const dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (IsHlsFileName(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Read in pieces, not into a buffer of the largest size allowed: that was 4 MiB written for every
// playlist at every publication, which the worker thread's malloc arena then kept (8 MB of the
// server's memory per running job).
Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kInternal, "Cannot read " + path + ".");
  std::string text;
  char piece[16 * 1024];
  while (in.read(piece, sizeof piece), in.gcount() > 0) {
    text.append(piece, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPlaylistBytes) {
      return Status(ErrorCode::kInternal, "The playlist " + path + " is too large.");
    }
  }
  return text;
}

Status PutText(BlobStore* blobs, const std::string& key, const std::string& text,
               const std::string& content_type) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, blobs->OpenWriter(key, content_type));
  RETURN_IF_ERROR(writer->Append(text.data(), text.size()));
  return writer->Commit();
}

}  // namespace

Status HlsPublication::PublishChanges() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, HlsFilesIn(dir_));
  // The playlists as they are now: every segment they name is already in the directory (the
  // engine renames a segment into place before it rewrites the playlist naming it).
  std::map<std::string, std::string> playlists;
  for (const std::string& name : names) {
    if (!IsPlaylist(name)) continue;
    ASSIGN_OR_RETURN(playlists[name], ReadSmallFile(dir_ + "/" + name));
  }
  ASSIGN_OR_RETURN(names, HlsFilesIn(dir_));  // again: segments written since count too
  for (const std::string& name : names) {
    if (IsPlaylist(name) || uploaded_.count(name)) continue;
    RETURN_IF_ERROR(
        blobs_->PutFile(HlsKey(video_id_, name), dir_ + "/" + name, HlsContentType(name)));
    uploaded_.insert(name);
    if (name.ends_with(".m4s")) ++segments_published_;
  }
  // Media playlists before the master: the master's first reader finds them.
  for (bool master : {false, true}) {
    for (const auto& [name, text] : playlists) {
      if ((name == "master.m3u8") != master) continue;
      auto stored = playlists_.find(name);
      if (stored != playlists_.end() && stored->second == text) continue;
      RETURN_IF_ERROR(PutText(blobs_, HlsKey(video_id_, name), text, HlsContentType(name)));
      playlists_[name] = text;
      (master ? master_published_ : media_published_) = true;
    }
  }
  return Status::Ok();
}

Status WithdrawHls(BlobStore* blobs, const std::string& video_id) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, blobs->List(HlsPrefix(video_id)));
  auto rank = [](const std::string& key) {
    return key.ends_with("/master.m3u8") ? 0 : key.ends_with(".m3u8") ? 1 : 2;
  };
  std::stable_sort(keys.begin(), keys.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  for (const std::string& key : keys) RETURN_IF_ERROR(blobs->Delete(key));
  return Status::Ok();
}

}  // namespace vidproc::storage
