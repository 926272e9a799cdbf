#include "storage/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>

#include "core/ids.h"
#include "core/text.h"

namespace vidproc::storage {
namespace {

// The one translator of OS errors for storage.
Status FromErrno(int err, const std::string& what) {
  std::string text = what + ": " + std::strerror(err) + ".";
  if (err == ENOSPC || err == EDQUOT) return Status(ErrorCode::kStorageFull, text);
  if (err == ENOENT) return Status(ErrorCode::kNotFound, text);
  return Status(ErrorCode::kStorageUnavailable, text);
}

Status InvalidKey(const std::string& key) {
  return Status(ErrorCode::kInvalidArgument, "'" + key + "' is not a valid storage key.");
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred write may surface only here.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status MakeDirs(const std::string& dir) {
  std::string partial;
  for (size_t pos = 0; pos != std::string::npos;) {
    size_t next = dir.find('/', pos + 1);
    partial = dir.substr(0, next);
    if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return FromErrno(errno, "Cannot create " + partial);
    }
    pos = next;
  }
  return Status::Ok();
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return FromErrno(errno, "Cannot sync " + dir);
  return Status::Ok();
}

// Copies `from` to the new file `to` and fsyncs it.
Status CopyFile(const std::string& from, const std::string& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return FromErrno(errno, "Cannot read " + from);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return FromErrno(errno, "Cannot stat " + from);
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) return FromErrno(errno, "Cannot create " + to);
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(out.get(), in.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FromErrno(n < 0 ? errno : EIO, "Cannot copy " + from);
  }
  if (::fsync(out.get()) != 0 || out.Close() != 0) return FromErrno(errno, "Cannot write " + to);
  return Status::Ok();
}

}  // namespace

bool IsValidKey(const std::string& key) {
  if (key.empty() || key.size() > 512 || key.front() == '/' || key.back() == '/') return false;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

Status CheckSourceKey(const std::string& key) {
  auto refuse = [](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "source_key " + why + ".");
  };
  if (key.empty()) return refuse("is empty");
  if (key.size() > 1024) return refuse("is longer than 1024 bytes");
  if (!IsSafeText(key)) {
    return refuse("is not UTF-8 text without control or bidirectional formatting characters");
  }
  if (key.front() == '/') return refuse("starts with '/': keys are relative to the bucket");
  if (key.back() == '/') return refuse("ends with '/': it names a folder, not an object");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = std::min(key.find('/', start), key.size());
    const std::string_view segment = std::string_view(key).substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return refuse("has an empty, '.' or '..' path segment");
    }
    start = end + 1;
  }
  for (const char* own : {"videos/", "uploads/"}) {
    if (key.rfind(own, 0) == 0) {
      return refuse(std::string("is under '") + own + "', where vidproc keeps its own objects");
    }
  }
  if (key == "readyz-probe") return refuse("is a key vidproc uses itself");
  return Status::Ok();
}

std::string ThumbnailKeyBeside(const std::string& key) {
  const size_t slash = key.rfind('/');
  const size_t name_at = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = key.rfind('.');
  // A dot that starts the name (".mov") is no extension.
  const bool has_extension = dot != std::string::npos && dot > name_at;
  const std::string stem = has_extension ? key.substr(0, dot) : key;
  if (stem + ".jpg" == key) return stem + ".thumbnail.jpg";
  return stem + ".jpg";
}

std::string OriginalKey(const std::string& id) { return "videos/" + id + "/original"; }
std::string VideoKey(const std::string& id) { return "videos/" + id + "/video.mp4"; }
std::string ThumbnailKey(const std::string& id) { return "videos/" + id + "/thumbnail.jpg"; }

bool IsThumbnailWidth(int width) {
  return std::find(kThumbnailWidths.begin(), kThumbnailWidths.end(), width) !=
         kThumbnailWidths.end();
}

std::string ThumbnailVariantKey(const std::string& id, int width) {
  return "videos/" + id + "/thumbnail-" + std::to_string(width) + ".jpg";
}

std::string StoryboardPrefix(const std::string& id) { return "videos/" + id + "/storyboard/"; }
std::string StoryboardKey(const std::string& id) { return StoryboardPrefix(id) + "storyboard.vtt"; }
std::string StoryboardSheetName(int sheet) {
  return "storyboard-" + std::to_string(sheet) + ".jpg";
}
std::string StoryboardSheetKey(const std::string& id, int sheet) {
  return StoryboardPrefix(id) + StoryboardSheetName(sheet);
}

std::optional<int> StoryboardSheetNumber(std::string_view name) {
  constexpr std::string_view kStem = "storyboard-", kExtension = ".jpg";
  if (!name.starts_with(kStem) || !name.ends_with(kExtension)) return std::nullopt;
  const std::string_view digits =
      name.substr(kStem.size(), name.size() - kStem.size() - kExtension.size());
  // One spelling per sheet: no sign, no leading zero, no more digits than the cap has.
  if (digits.empty() || digits.size() > 2 || digits[0] == '0' ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int n = std::stoi(std::string(digits));
  if (n < 1 || n > kMaxStoryboardSheets) return std::nullopt;
  return n;
}

OutputKeys OutputKeysOf(const std::string& id, const std::string& replaced_source_key) {
  if (replaced_source_key.empty()) return {VideoKey(id), ThumbnailKey(id)};
  return {replaced_source_key, ThumbnailKeyBeside(replaced_source_key)};
}

bool IsProcessedOutputKey(const std::string& key) {
  if (!IsValidKey(key) || key.rfind("videos/", 0) != 0) return false;
  const size_t slash = key.find('/', 7);
  if (slash == std::string::npos || slash == 7) return false;
  const std::string id = key.substr(7, slash - 7);
  if (key.rfind(HlsPrefix(id), 0) == 0) return IsHlsFileName(key.substr(HlsPrefix(id).size()));
  if (key.rfind(StoryboardPrefix(id), 0) == 0) {
    const std::string name = key.substr(StoryboardPrefix(id).size());
    return name == "storyboard.vtt" || StoryboardSheetNumber(name).has_value();
  }
  return key == VideoKey(id) || key == ThumbnailKey(id) ||
         std::any_of(kThumbnailWidths.begin(), kThumbnailWidths.end(),
                     [&](int w) { return key == ThumbnailVariantKey(id, w); });
}

std::string HlsPrefix(const std::string& id) { return "videos/" + id + "/hls/"; }

std::string HlsKey(const std::string& id, const std::string& name) { return HlsPrefix(id) + name; }

bool IsHlsFileName(std::string_view name) {
  if (name == "master.m3u8") return true;
  // The rung: its short side in pixels and "p" ("720p").
  size_t digits = 0;
  while (digits < name.size() && digits < 5 && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0 || name[0] == '0' || digits >= name.size() || name[digits] != 'p') return false;
  const std::string_view rest = name.substr(digits + 1);
  if (rest == ".m3u8" || rest == "-init.mp4") return true;
  // A segment: "-" and five digits (the engine counts from 00000), ".m4s".
  if (rest.size() != 10 || rest[0] != '-' || !rest.ends_with(".m4s")) return false;
  return std::all_of(rest.begin() + 1, rest.begin() + 6,
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::string HlsContentType(std::string_view name) {
  if (name.ends_with(".m3u8")) return "application/vnd.apple.mpegurl";
  if (name.ends_with(".m4s")) return "video/iso.segment";
  return "video/mp4";
}

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  std::string clean = root;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  RETURN_IF_ERROR(MakeDirs(clean + "/blobs"));
  RETURN_IF_ERROR(MakeDirs(clean + "/tmp"));
  return std::unique_ptr<LocalStore>(new LocalStore(clean));
}

Result<std::string> LocalStore::StageCopy(const std::string& from) {
  std::string temp = root_ + "/tmp/" + NewId();
  if (::link(from.c_str(), temp.c_str()) == 0) {
    // Same file system: no copy, but the data must still be on disk before the rename.
    Fd fd(::open(temp.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
      Status s = FromErrno(errno, "Cannot sync " + from);
      ::unlink(temp.c_str());
      return s;
    }
    return temp;
  }
  if (errno == ENOENT) return FromErrno(errno, "Cannot read " + from);
  Status s = CopyFile(from, temp);
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return temp;
}

Status LocalStore::PutFile(const std::string& key, const std::string& local_path,
                           const std::string& /*content_type*/) {
  if (!IsValidKey(key)) return InvalidKey(key);
  ASSIGN_OR_RETURN(std::string temp, StageCopy(local_path));
  return Publish(temp, key);
}

// Writes into a temporary file; Commit() syncs it and renames it into place.
class LocalBlobWriter : public BlobWriter {
 public:
  LocalBlobWriter(LocalStore* store, std::string key, std::string temp, int fd)
      : store_(store), key_(std::move(key)), temp_(std::move(temp)), fd_(fd) {}
  ~LocalBlobWriter() override {
    if (fd_.get() >= 0 || !done_) ::unlink(temp_.c_str());
  }

  Status Append(const char* data, size_t size) override {
    if (done_) return Status(ErrorCode::kInternal, "Append after Commit.");
    while (size > 0) {
      ssize_t n = ::write(fd_.get(), data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FromErrno(errno, "Cannot write " + key_);
      data += n;
      size -= static_cast<size_t>(n);
      written_ += n;
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return Status(ErrorCode::kInternal, "Commit twice.");
    done_ = true;
    if (::fsync(fd_.get()) != 0 || fd_.Close() != 0) {
      Status s = FromErrno(errno, "Cannot write " + key_);
      ::unlink(temp_.c_str());
      return s;
    }
    return store_->Publish(temp_, key_);
  }

  int64_t bytes_written() const override { return written_; }

 private:
  LocalStore* store_;
  std::string key_;
  std::string temp_;
  Fd fd_;
  int64_t written_ = 0;
  bool done_ = false;
};

Result<std::unique_ptr<BlobWriter>> LocalStore::OpenWriter(const std::string& key,
                                                           const std::string& /*content_type*/) {
  if (!IsValidKey(key)) return InvalidKey(key);
  std::string temp = root_ + "/tmp/" + NewId();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return FromErrno(errno, "Cannot create a file for " + key);
  return std::unique_ptr<BlobWriter>(new LocalBlobWriter(this, key, temp, fd));
}

Status LocalStore::Publish(const std::string& temp, const std::string& key) {
  std::string path = PathOf(key);
  Status s = MakeDirs(Parent(path));
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = FromErrno(errno, "Cannot store " + key);
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return SyncDir(Parent(path));
}

Status LocalStore::GetFile(const std::string& key, const std::string& local_path) {
  if (!IsValidKey(key)) return InvalidKey(key);
  std::string temp = local_path + ".partial";
  Status s = CopyFile(PathOf(key), temp);
  if (s.ok() && ::rename(temp.c_str(), local_path.c_str()) != 0) {
    s = FromErrno(errno, "Cannot write " + local_path);
  }
  if (!s.ok()) ::unlink(temp.c_str());
  return s;
}

Result<std::string> LocalStore::ReadRange(const std::string& key, int64_t offset, int64_t length) {
  if (!IsValidKey(key)) return InvalidKey(key);
  if (offset < 0 || length < 0) return Status(ErrorCode::kInvalidArgument, "Bad byte range.");
  Fd fd(::open(PathOf(key).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return FromErrno(errno, "Cannot read " + key);
  std::string data(static_cast<size_t>(length), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n =
        ::pread(fd.get(), data.data() + got, data.size() - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FromErrno(errno, "Cannot read " + key);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

Result<std::optional<BlobInfo>> LocalStore::Stat(const std::string& key) {
  if (!IsValidKey(key)) return InvalidKey(key);
  struct stat st {};
  if (::stat(PathOf(key).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<BlobInfo>();
    return FromErrno(errno, "Cannot stat " + key);
  }
  return std::optional<BlobInfo>(BlobInfo{st.st_size, ""});
}

Status LocalStore::Delete(const std::string& key) {
  if (!IsValidKey(key)) return InvalidKey(key);
  std::string path = PathOf(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return FromErrno(errno, "Cannot delete " + key);
  }
  // Empty per-video directories go too; a non-empty one stays (rmdir refuses).
  for (std::string dir = Parent(path); dir.size() > root_.size() + 6; dir = Parent(dir)) {
    if (::rmdir(dir.c_str()) != 0) break;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> LocalStore::List(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string base = root_ + "/blobs";
  std::function<Status(const std::string&, const std::string&)> walk =
      [&](const std::string& dir, const std::string& key_prefix) -> Status {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno == ENOENT ? Status::Ok() : FromErrno(errno, "Cannot list " + dir);
    std::vector<std::pair<std::string, bool>> entries;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      entries.emplace_back(name, e->d_type == DT_DIR);
    }
    ::closedir(d);
    for (const auto& [name, is_dir] : entries) {
      std::string key = key_prefix.empty() ? name : key_prefix + "/" + name;
      if (is_dir) {
        // Descend only where keys can still match the prefix.
        if (key.rfind(prefix, 0) == 0 || prefix.rfind(key + "/", 0) == 0) {
          RETURN_IF_ERROR(walk(dir + "/" + name, key));
        }
      } else if (key.rfind(prefix, 0) == 0) {
        keys.push_back(key);
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(walk(base, ""));
  std::sort(keys.begin(), keys.end());
  return keys;
}

Result<ServeLocation> LocalStore::Locate(const std::string& key, int /*expiry_s*/) {
  ASSIGN_OR_RETURN(std::optional<BlobInfo> info, Stat(key));
  if (!info) return Status(ErrorCode::kNotFound, "No blob at " + key + ".");
  return ServeLocation{PathOf(key), ""};
}

std::optional<std::string> LocalStore::LocalPathFor(const std::string& key) {
  if (!IsValidKey(key)) return std::nullopt;
  struct stat st {};
  if (::stat(PathOf(key).c_str(), &st) != 0) return std::nullopt;
  return PathOf(key);
}

}  // namespace vidproc::storage
