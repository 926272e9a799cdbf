#pragma once

#include "core/cancel.h"
#include "media/input_file.h"
#include "media/output_file.h"
#include "media/probe.h"
#include "media/stage.h"
#include "media/transcoder.h"

namespace vidproc::media {

// Copies the chosen video and audio streams of `input` into `output` without decoding (the
// passthrough path). Fills `video` and `audio` with packet counts and the media end times.
Status Remux(InputFile& input, const MediaInfo& info, OutputFile& output,
             const ProgressCallback& progress, const CancelToken* cancel, StageStats* video,
             StageStats* audio);

}  // namespace vidproc::media
