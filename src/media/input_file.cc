#include "media/input_file.h"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "media/av_error.h"
#include "media/av_ptr.h"

namespace vidproc::media {
namespace {

// Real video containers. Everything else (playlists, concat scripts, image sequences, raw
// device and text demuxers) is refused before it can interpret the file's content as references.
constexpr std::array<std::string_view, 9> kAllowedDemuxers = {"mov,mp4,m4a,3gp,3g2,mj2",
                                                              "matroska,webm",
                                                              "avi",
                                                              "mpegts",
                                                              "mpeg",
                                                              "flv",
                                                              "ogg",
                                                              "asf",
                                                              "mxf"};

// Demuxers that identify a file that is not a video at all: we name the problem precisely.
constexpr std::array<std::string_view, 12> kAudioDemuxers = {
    "mp3", "wav", "flac", "aac", "ac3", "eac3", "amr", "ape", "w64", "wv", "caf", "aiff"};
constexpr std::array<std::string_view, 6> kPlaylistDemuxers = {"hls",        "concat", "dash",
                                                               "ffmetadata", "tty",    "subfile"};

bool Contains(const auto& list, std::string_view name) {
  for (auto entry : list) {
    if (entry == name) return true;
  }
  return false;
}

bool IsImageDemuxer(std::string_view name) {
  return name == "image2" || name == "gif" || name == "webp_pipe" || name == "apng" ||
         (name.size() > 5 && name.substr(name.size() - 5) == "_pipe");
}

// Why a recognised but refused format is refused, in words for the uploader.
Status RefusedFormat(std::string_view name) {
  std::string n(name);
  if (IsImageDemuxer(name)) {
    return Status(ErrorCode::kNotAVideo,
                  "The file is a still image (" + n + "), not a video. Upload a video file.");
  }
  if (Contains(kAudioDemuxers, name)) {
    return Status(ErrorCode::kNoVideoStream,
                  "The file is audio only (" + n + "); it has no picture to process.");
  }
  if (Contains(kPlaylistDemuxers, name)) {
    return Status(ErrorCode::kUnsupportedFormat,
                  "The file is a playlist or script (" + n +
                      "), not a video; only self-contained video files are accepted.");
  }
  return Status(
      ErrorCode::kUnsupportedFormat,
      "The container format '" + n +
          "' is not supported. Use MP4, MOV, MKV, WebM, AVI, MPEG-TS, MPEG-PS, FLV or Ogg.");
}

// The decoder allowlist (limits.h) for the streams that would be decoded: the video streams (not
// cover art) and the audio streams. A codec the container does not name is left to CheckLimits.
Status CheckStreamCodec(const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  if (par->codec_id == AV_CODEC_ID_NONE) return Status::Ok();
  if (par->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
    return CheckCodecAllowed(par->codec_id, /*video=*/true);
  }
  if (par->codec_type == AVMEDIA_TYPE_AUDIO) return CheckCodecAllowed(par->codec_id, false);
  return Status::Ok();
}

}  // namespace

bool IsAllowedContainer(const char* demuxer_name) {
  return demuxer_name && Contains(kAllowedDemuxers, demuxer_name);
}

int InputFile::InterruptCallback(void* opaque) {
  auto* self = static_cast<InputFile*>(opaque);
  return self->cancel_ && self->cancel_->cancelled() ? 1 : 0;
}

int InputFile::RefuseNestedOpen(AVFormatContext* s, AVIOContext** /*pb*/, const char* url,
                                int /*flags*/, AVDictionary** /*options*/) {
  auto* self = static_cast<InputFile*>(s->opaque);
  if (self) self->refused_nested_opens_++;
  LogWarning("refused a nested open requested by the demuxer", {{"url", url ? url : ""}});
  return AVERROR(EPERM);
}

std::string InputFile::container() const {
  std::string name = format_ && format_->iformat ? format_->iformat->name : "";
  return name.substr(0, name.find(','));
}

InputFile::~InputFile() {
  if (format_) avformat_close_input(&format_);  // custom I/O: does not close io_
  if (io_) avio_closep(&io_);
}

Result<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path,
                                                   const InputLimits& limits,
                                                   const CancelToken* cancel) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status(ErrorCode::kInputNotFound, "The input file " + path + " does not exist.");
    }
    return Status(ErrorCode::kInputReadFailed,
                  "Cannot read the input file " + path + ": " + std::strerror(errno) + ".");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kInputReadFailed, "The input " + path + " is not a regular file.");
  }
  if (st.st_size == 0) {
    return Status(ErrorCode::kEmptyFile, "The file is empty (0 bytes). Upload the video again.");
  }
  if (st.st_size > limits.max_file_bytes) {
    return Status(ErrorCode::kTooLargeFile,
                  "The file is " + std::to_string(st.st_size >> 20) + " MiB; the limit is " +
                      std::to_string(limits.max_file_bytes >> 20) + " MiB.");
  }

  std::unique_ptr<InputFile> in(new InputFile());
  in->path_ = path;
  in->size_bytes_ = st.st_size;
  in->cancel_ = cancel;

  // The "file:" prefix stops libav from reading a protocol out of a name such as "http:x.mp4".
  const std::string url = "file:" + path;
  AVIOInterruptCB interrupt{&InputFile::InterruptCallback, in.get()};
  Dictionary io_options;
  io_options.Set("protocol_whitelist", "file");
  int err = avio_open2(&in->io_, url.c_str(), AVIO_FLAG_READ, &interrupt, io_options.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInputReadFailed, "Cannot open the input file");

  // Identify the container ourselves first, so that a refused format is never opened.
  const AVInputFormat* detected = nullptr;
  // No file name is given: the content alone decides, an extension cannot vote.
  err = av_probe_input_buffer2(in->io_, &detected, "", nullptr, 0, 1 << 20);
  if (err < 0 || !detected) {
    RETURN_IF_ERROR(ReadStopStatus(err, in->io_->error));
    return Status(ErrorCode::kNotAVideo,
                  "The file is not a video (no known video format was recognised in it).");
  }
  if (!IsAllowedContainer(detected->name)) return RefusedFormat(detected->name);

  in->format_ = avformat_alloc_context();
  if (!in->format_) return Status(ErrorCode::kInternal, "Out of memory.");
  in->format_->pb = in->io_;
  in->format_->opaque = in.get();
  in->format_->io_open = &InputFile::RefuseNestedOpen;
  in->format_->interrupt_callback = interrupt;
  in->format_->probesize = limits.probe_bytes;
  in->format_->max_analyze_duration = limits.analyze_us;

  Dictionary options;
  options.Set("format_whitelist", detected->name);
  options.Set("protocol_whitelist", "file");
  options.Set("max_streams", limits.max_streams * 4 + 16);
  // Also handed to every decoder avformat_find_stream_info opens.
  options.Set("codec_whitelist", AllowedDecoderNames().c_str());
  err = avformat_open_input(&in->format_, url.c_str(), detected, options.get());
  if (err < 0) {
    // avformat_open_input frees the context on failure.
    in->format_ = nullptr;
    RETURN_IF_ERROR(ReadStopStatus(err, in->io_->error));
    if (std::string_view(detected->name).starts_with("mov")) {
      return Status(
          ErrorCode::kTruncatedInput,
          "The MP4/MOV file has no index (moov atom): the upload or the recording was cut "
          "short. Upload the complete file.");
    }
    return FromAvError(err, ErrorCode::kCorruptInput, "The file's container is damaged");
  }

  // Codecs and sizes the container declares are checked before any decoder sees a packet.
  for (unsigned i = 0; i < in->format_->nb_streams; ++i) {
    RETURN_IF_ERROR(CheckStreamCodec(in->format_->streams[i]));
    const AVCodecParameters* par = in->format_->streams[i]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      RETURN_IF_ERROR(CheckPictureSize(par->width, par->height, limits));
    }
  }

  // Decoders used while probing stream parameters get the same pixel limit as the real ones, so a
  // forged header cannot make find_stream_info allocate a gigapixel frame.
  std::vector<AVDictionary*> stream_options(in->format_->nb_streams, nullptr);
  for (auto& o : stream_options) {
    av_dict_set(&o, "codec_whitelist", AllowedDecoderNames().c_str(), 0);
    av_dict_set_int(&o, "max_pixels", limits.max_pixels, 0);
    av_dict_set_int(&o, "threads", 1, 0);
  }
  err = avformat_find_stream_info(in->format_,
                                  stream_options.empty() ? nullptr : stream_options.data());
  for (auto& o : stream_options) av_dict_free(&o);
  if (err < 0) {
    RETURN_IF_ERROR(ReadStopStatus(err, in->io_->error));
    return FromAvError(err, ErrorCode::kCorruptInput, "The file's streams cannot be read");
  }
  // Streams that only probing found (MPEG-TS, MPEG-PS).
  for (unsigned i = 0; i < in->format_->nb_streams; ++i) {
    RETURN_IF_ERROR(CheckStreamCodec(in->format_->streams[i]));
  }
  return in;
}

}  // namespace vidproc::media
