// Parsing of the human units used on command lines and in configuration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vidproc {

struct Size {
  int width = 0;
  int height = 0;
};

// "1500k", "1.5M", "800000" -> bits per second.
Result<int64_t> ParseBitrate(std::string_view text);
// "1280x720" -> {1280, 720}.
Result<Size> ParseSize(std::string_view text);
// A whole number in [min, max].
Result<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max);
// ASCII lowercase (header names, media types): locale-independent.
std::string AsciiLower(std::string_view text);

}  // namespace vidproc
