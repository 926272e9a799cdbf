#include "core/text.h"

#include <algorithm>
#include <vector>

namespace vidproc {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr size_t kReplacementBytes = sizeof(kReplacement) - 1;

bool InRange(unsigned char b, unsigned char low, unsigned char high) {
  return b >= low && b <= high;
}

}  // namespace

Utf8Step DecodeUtf8(std::string_view bytes) {
  const auto b0 = static_cast<unsigned char>(bytes[0]);
  if (b0 < 0x80) return {b0, 1, true};
  // Unicode Table 3-7 (well-formed byte sequences): the lead byte decides the length and the
  // range allowed for the second byte (which excludes overlong forms, surrogates and code points
  // above U+10FFFF); later bytes are any continuation byte 80-BF.
  size_t length = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;
  char32_t value = 0;
  if (InRange(b0, 0xC2, 0xDF)) {
    length = 2;
    value = b0 & 0x1F;
  } else if (InRange(b0, 0xE0, 0xEF)) {
    length = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) second_low = 0xA0;   // below: overlong
    if (b0 == 0xED) second_high = 0x9F;  // above: surrogates D800-DFFF
  } else if (InRange(b0, 0xF0, 0xF4)) {
    length = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) second_low = 0x90;   // below: overlong
    if (b0 == 0xF4) second_high = 0x8F;  // above: past U+10FFFF
  } else {
    return {0, 1, false};  // a continuation byte, C0/C1 (always overlong), F5-FF
  }
  for (size_t i = 1; i < length; ++i) {
    if (i >= bytes.size()) return {0, i, false};  // cut short
    const auto b = static_cast<unsigned char>(bytes[i]);
    const bool fits = i == 1 ? InRange(b, second_low, second_high) : InRange(b, 0x80, 0xBF);
    if (!fits) return {0, i, false};  // the maximal subpart ends before this byte
    value = (value << 6) | (b & 0x3F);
  }
  return {value, length, true};
}

bool IsUnsafeCodePoint(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return true;  // C0, DEL, C1
  if (c == 0x2028 || c == 0x2029) return true;
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

std::string SanitizeText(std::string_view bytes, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(bytes.size(), max_bytes));
  while (!bytes.empty()) {
    Utf8Step step = DecodeUtf8(bytes);
    std::string_view keep;
    if (!step.valid) {
      keep = std::string_view(kReplacement, kReplacementBytes);
    } else if (!IsUnsafeCodePoint(step.code_point)) {
      keep = bytes.substr(0, step.length);
    }
    if (out.size() + keep.size() > max_bytes) break;
    out.append(keep);
    bytes.remove_prefix(step.length);
  }
  return out;
}

std::string SanitizeFilename(std::string_view name) {
  size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out = SanitizeText(name, kMaxFilenameBytes);
  return out.empty() ? "upload" : out;
}

bool IsSafeText(std::string_view text) {
  while (!text.empty()) {
    Utf8Step step = DecodeUtf8(text);
    if (!step.valid || IsUnsafeCodePoint(step.code_point)) return false;
    text.remove_prefix(step.length);
  }
  return true;
}

nlohmann::json SanitizeJson(const nlohmann::json& value, size_t max_bytes) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (IsSafeText(s) && s.size() <= max_bytes) return value;
    return SanitizeText(s, max_bytes);
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(SanitizeJson(item, max_bytes));
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      out[SanitizeText(it.key(), max_bytes)] = SanitizeJson(it.value(), max_bytes);
    }
    return out;
  }
  return value;
}

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  // Three rows of the dynamic-programming table: the transposition looks two rows back.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

size_t SuggestionDistanceLimit(std::string_view typed) {
  if (typed.size() <= 4) return 1;
  return typed.size() <= 12 ? 2 : 3;
}

std::optional<std::string> ParseOrigin(std::string_view text) {
  std::string origin;
  for (char c : text) origin += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (!origin.empty() && origin.back() == '/') origin.pop_back();
  std::string_view rest = origin;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  if (rest.empty() || rest.size() > 260) return std::nullopt;
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    if (rest.substr(1, close - 1).find_first_not_of("0123456789abcdef:.") !=
        std::string_view::npos) {
      return std::nullopt;
    }
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::nullopt;
    port = after.empty() ? after : after.substr(1);
    if (!after.empty() && port.empty()) return std::nullopt;
  } else {
    if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (host.empty() || host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") !=
                            std::string_view::npos) {
      return std::nullopt;
    }
  }
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return origin;
}

}  // namespace vidproc
