// The MP4 being written. It is written under a temporary name and renamed into place only by
// Finish(), so a failed or cancelled job never leaves a file that looks finished.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "media/hls_output.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace vidproc::media {

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> Create(const std::string& path);
  // Closes and deletes the temporary file unless Finish() succeeded.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Every stream and packet of the MP4 also goes to `hls` (the same packets: no second encode),
  // which Finish() finishes after the MP4. REQUIRES: before the streams are added.
  void AttachHls(std::unique_ptr<HlsOutput> hls) { hls_ = std::move(hls); }
  HlsOutput* hls() { return hls_.get(); }

  // REQUIRES: before WriteHeader(). The stream takes the encoder's parameters.
  Result<AVStream*> AddEncodedStream(const AVCodecContext* encoder);
  // REQUIRES: before WriteHeader(). The stream copies the input's codec parameters (remux).
  Result<AVStream*> AddCopiedStream(const AVStream* input);
  // Writes the header; the moov atom will be moved to the front (faststart) by Finish().
  Status WriteHeader();
  // Rescales `packet` from `time_base` to the stream's and interleaves it. Takes the payload.
  Status WritePacket(AVPacket* packet, AVRational time_base, const AVStream* stream);
  // Trailer, close, fsync, rename to the final path. A failure here loses the output: check it.
  Status Finish();

  const std::string& path() const { return path_; }

 private:
  OutputFile() = default;
  Status Abort();

  std::string path_;
  std::string temp_path_;
  AVFormatContext* format_ = nullptr;
  bool header_written_ = false;
  bool finished_ = false;
  std::unique_ptr<HlsOutput> hls_;
};

// Renames `from` over `to` after fsyncing it and makes the rename durable; removes `from` on error.
Status CommitFile(const std::string& from, const std::string& to);

}  // namespace vidproc::media
