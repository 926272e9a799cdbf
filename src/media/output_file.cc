#include "media/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "media/av_error.h"
#include "media/av_ptr.h"

namespace vidproc::media {
namespace {

std::string DirectoryOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    return Status(ErrorCode::kOutputWriteFailed,
                  "Cannot open " + path + ": " + std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return Status(ErrorCode::kOutputWriteFailed,
                  "Cannot sync " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

}  // namespace

Status CommitFile(const std::string& from, const std::string& to) {
  Status s = SyncPath(from, O_RDONLY);
  if (s.ok() && std::rename(from.c_str(), to.c_str()) != 0) {
    s = Status(ErrorCode::kOutputWriteFailed,
               "Cannot move the output into place at " + to + ": " + std::strerror(errno));
  }
  if (!s.ok()) {
    std::remove(from.c_str());
    return s;
  }
  return SyncPath(DirectoryOf(to), O_RDONLY | O_DIRECTORY);
}

Result<std::unique_ptr<OutputFile>> OutputFile::Create(const std::string& path) {
  std::unique_ptr<OutputFile> out(new OutputFile());
  out->path_ = path;
  out->temp_path_ = path + ".partial";
  int err = avformat_alloc_output_context2(&out->format_, nullptr, "mp4", out->temp_path_.c_str());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the MP4 muxer");
  Dictionary io_options;
  io_options.Set("protocol_whitelist", "file");
  std::string url = "file:" + out->temp_path_;
  err = avio_open2(&out->format_->pb, url.c_str(), AVIO_FLAG_WRITE, nullptr, io_options.get());
  if (err < 0) {
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot create the output file " + path);
  }
  return out;
}

OutputFile::~OutputFile() {
  if (!finished_) (void)Abort();
}

Status OutputFile::Abort() {
  if (format_) {
    if (format_->pb) avio_closep(&format_->pb);
    avformat_free_context(format_);
    format_ = nullptr;
    std::remove(temp_path_.c_str());
  }
  return Status::Ok();
}

Result<AVStream*> OutputFile::AddEncodedStream(const AVCodecContext* encoder) {
  AVStream* st = avformat_new_stream(format_, nullptr);
  if (!st) return Status(ErrorCode::kInternal, "Out of memory.");
  int err = avcodec_parameters_from_context(st->codecpar, encoder);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot set up an output stream");
  st->time_base = encoder->time_base;
  if (hls_) RETURN_IF_ERROR(hls_->AddStream(st->codecpar, st->time_base));
  return st;
}

Result<AVStream*> OutputFile::AddCopiedStream(const AVStream* input) {
  AVStream* st = avformat_new_stream(format_, nullptr);
  if (!st) return Status(ErrorCode::kInternal, "Out of memory.");
  int err = avcodec_parameters_copy(st->codecpar, input->codecpar);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot set up an output stream");
  st->codecpar->codec_tag = 0;  // let the MP4 muxer choose (avc1, mp4a)
  st->time_base = input->time_base;
  if (hls_) RETURN_IF_ERROR(hls_->AddStream(st->codecpar, st->time_base));
  return st;
}

Status OutputFile::WriteHeader() {
  Dictionary options;
  options.Set("movflags", "+faststart");
  // Source metadata (titles, GPS locations, device names) is never copied; this also keeps the
  // muxer from adding its own encoder tag.
  format_->flags |= AVFMT_FLAG_BITEXACT;
  int err = avformat_write_header(format_, options.get());
  if (err < 0)
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot write the MP4 header");
  header_written_ = true;
  return hls_ ? hls_->WriteHeader() : Status::Ok();
}

Status OutputFile::WritePacket(AVPacket* packet, AVRational time_base, const AVStream* stream) {
  if (hls_) RETURN_IF_ERROR(hls_->WritePacket(packet, time_base, stream->index));
  av_packet_rescale_ts(packet, time_base, stream->time_base);
  packet->stream_index = stream->index;
  packet->pos = -1;
  int err = av_interleaved_write_frame(format_, packet);
  if (err < 0)
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot write to the output file");
  return Status::Ok();
}

Status OutputFile::Finish() {
  if (!header_written_) return Status(ErrorCode::kInternal, "Finish() before WriteHeader().");
  int err = av_write_trailer(format_);
  if (err < 0) {
    (void)Abort();
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot finish the output file");
  }
  err = avio_closep(&format_->pb);
  avformat_free_context(format_);
  format_ = nullptr;
  if (err < 0) {
    std::remove(temp_path_.c_str());
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot close the output file");
  }
  finished_ = true;
  RETURN_IF_ERROR(CommitFile(temp_path_, path_));
  if (hls_) {
    Status s = hls_->Finish();
    if (!s.ok()) {
      std::remove(path_.c_str());
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace vidproc::media
