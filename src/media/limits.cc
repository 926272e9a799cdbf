#include "media/limits.h"

#include <string>

namespace vidproc::media {

Status CheckPictureSize(int width, int height, const InputLimits& limits) {
  if (width <= limits.max_width && height <= limits.max_height &&
      int64_t{width} * height <= limits.max_pixels) {
    return Status::Ok();
  }
  return Status(ErrorCode::kTooLargeDimensions,
                "The video is " + std::to_string(width) + "x" + std::to_string(height) +
                    "; the largest accepted is " + std::to_string(limits.max_width) + "x" +
                    std::to_string(limits.max_height) + " and " +
                    std::to_string(limits.max_pixels / 1'000'000) + " megapixels.");
}

}  // namespace vidproc::media
