#include "media/remuxer.h"

#include <algorithm>

#include "media/av_error.h"
#include "media/av_ptr.h"

namespace vidproc::media {

Status Remux(InputFile& input, const MediaInfo& info, OutputFile& output,
             const ProgressCallback& progress, const CancelToken* cancel, StageStats* video,
             StageStats* audio) {
  AVFormatContext* fmt = input.format();
  const AVStream* in_video = fmt->streams[info.video->index];
  const AVStream* in_audio =
      info.audio_stream() ? fmt->streams[info.audio_stream()->index] : nullptr;
  ASSIGN_OR_RETURN(AVStream * out_video, output.AddCopiedStream(in_video));
  AVStream* out_audio = nullptr;
  if (in_audio) {
    ASSIGN_OR_RETURN(out_audio, output.AddCopiedStream(in_audio));
  }
  RETURN_IF_ERROR(output.WriteHeader());

  int64_t start = fmt->start_time == AV_NOPTS_VALUE ? 0 : fmt->start_time;
  PacketPtr packet = MakePacket();
  for (;;) {
    if (cancel && cancel->cancelled())
      return Status(ErrorCode::kCancelled, "The job was cancelled.");
    int err = av_read_frame(fmt, packet.get());
    if (err < 0) {
      // Cut or damaged data is judged by the duration check, like a truncated file.
      RETURN_IF_ERROR(ReadStopStatus(err, fmt->pb ? fmt->pb->error : 0));
      break;
    }
    const AVStream* in = fmt->streams[packet->stream_index];
    AVStream* out = in == in_video ? out_video : in == in_audio ? out_audio : nullptr;
    StageStats* stats = in == in_video ? video : audio;
    if (out && packet->pts != AV_NOPTS_VALUE) {
      stats->packets++;
      double end =
          (packet->pts + packet->duration - av_rescale_q(start, AV_TIME_BASE_Q, in->time_base)) *
          av_q2d(in->time_base);
      stats->end_s = std::max(stats->end_s, end);
      if (in == in_video && progress) progress(stats->end_s, info.duration_s);
      RETURN_IF_ERROR(output.WritePacket(packet.get(), in->time_base, out));
    }
    av_packet_unref(packet.get());
  }
  return Status::Ok();
}

}  // namespace vidproc::media
