#include "core/units.h"

#include <charconv>
#include <cmath>
#include <string>

namespace vidproc {

Result<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) + "' is not a whole number.");
  }
  if (value < min || value > max) {
    return Status(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is out of range (" +
                                                   std::to_string(min) + ".." +
                                                   std::to_string(max) + ").");
  }
  return value;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<int64_t> ParseBitrate(std::string_view text) {
  double multiplier = 1;
  std::string_view digits = text;
  if (!digits.empty()) {
    char suffix = digits.back();
    if (suffix == 'k' || suffix == 'K') multiplier = 1e3;
    if (suffix == 'm' || suffix == 'M') multiplier = 1e6;
    if (multiplier != 1) digits.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) + "' is not a bitrate; write it like 1500k or 2M.");
  }
  double bps = value * multiplier;
  if (!(bps >= 50e3 && bps <= 100e6)) {
    return Status(ErrorCode::kInvalidArgument,
                  "Bitrate '" + std::string(text) + "' is outside 50k..100M.");
  }
  return static_cast<int64_t>(std::llround(bps));
}

Result<Size> ParseSize(std::string_view text) {
  auto x = text.find('x');
  if (x == std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) + "' is not a size; write it like 1280x720.");
  }
  auto w = ParseInteger(text.substr(0, x), 16, 16384);
  auto h = ParseInteger(text.substr(x + 1), 16, 16384);
  if (!w.ok() || !h.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) + "' is not a size between 16x16 and 16384x16384.");
  }
  return Size{static_cast<int>(w.value()), static_cast<int>(h.value())};
}

}  // namespace vidproc
