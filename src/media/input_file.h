// Opening an untrusted file for demuxing. This is the security boundary of the engine: libav only
// ever reads the one local file named here, through one AVIOContext we opened ourselves, and only
// with a demuxer from the allowlist of real video containers. Any nested open a demuxer attempts
// (HLS variants and segments, concat entries, MOV external references) is refused.
#pragma once

#include <memory>
#include <string>

#include "core/cancel.h"
#include "core/status.h"
#include "media/limits.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace vidproc::media {

class InputFile {
 public:
  // Opens and probes `path`. On failure returns a Status with an input error code
  // (empty_file, not_a_video, unsupported_format, truncated_input, ...).
  // `cancel` may be null; otherwise it must outlive the InputFile.
  static Result<std::unique_ptr<InputFile>> Open(const std::string& path, const InputLimits& limits,
                                                 const CancelToken* cancel);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  AVFormatContext* format() const { return format_; }
  const std::string& path() const { return path_; }
  int64_t size_bytes() const { return size_bytes_; }
  // The demuxer's short name ("mov,mp4,m4a,3gp,3g2,mj2" becomes "mov").
  std::string container() const;
  // Number of nested opens the demuxer attempted and we refused (0 for a well-formed file).
  int refused_nested_opens() const { return refused_nested_opens_; }

 private:
  InputFile() = default;
  static int InterruptCallback(void* opaque);
  static int RefuseNestedOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags,
                              AVDictionary** options);

  std::string path_;
  int64_t size_bytes_ = 0;
  const CancelToken* cancel_ = nullptr;
  AVIOContext* io_ = nullptr;          // owned; the demuxer reads only through this
  AVFormatContext* format_ = nullptr;  // owned
  int refused_nested_opens_ = 0;
};

// Demuxers we accept, by the short names libav gives them.
bool IsAllowedContainer(const char* demuxer_name);

}  // namespace vidproc::media
