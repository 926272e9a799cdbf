#include "http/headers.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/units.h"

namespace vidproc::http {
namespace {

// Calls `each` with every comma-separated item of a header list, blanks around it trimmed.
template <typename Each>
bool AnyListItem(std::string_view list, Each each) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    size_t first = item.find_first_not_of(" \t");
    item = first == std::string_view::npos ? std::string_view() : item.substr(first);
    item = item.substr(0, item.find_last_not_of(" \t") + 1);
    if (each(item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<ByteRange> ParseRange(std::string_view header, int64_t size) {
  ByteRange whole{0, size, false};
  if (header.empty()) return whole;
  if (header.substr(0, 6) != "bytes=") return whole;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return whole;  // multi-range: send it all
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  auto number = [](std::string_view s, int64_t* out) {
    auto n = ParseNonNegative(s);
    if (n) *out = *n;
    return n.has_value();
  };
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  int64_t a = 0, b = 0;
  if (first.empty()) {  // the last N bytes
    if (!number(last, &b)) return whole;
    if (b == 0 || size == 0) return std::nullopt;
    b = std::min(b, size);
    return ByteRange{size - b, b, true};
  }
  if (!number(first, &a)) return whole;
  if (a >= size) return std::nullopt;
  if (last.empty()) {
    b = size - 1;
  } else if (!number(last, &b) || b < a) {
    return whole;
  }
  b = std::min(b, size - 1);
  return ByteRange{a, b - a + 1, true};
}

std::string UrlDecode(std::string_view text) {
  auto hex = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (UrlDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseNonNegative(std::string_view text) {
  auto n = ParseInteger(text, 0, INT64_MAX);
  return n.ok() ? std::optional<int64_t>(n.value()) : std::nullopt;
}

std::string Base64Decode(std::string_view in) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int value = 0, bits = -8;
  for (char c : in) {
    size_t d = kChars.find(c);
    if (d == std::string_view::npos) break;  // '=' padding or garbage ends it
    value = ((value << 6) + static_cast<int>(d)) & 0xFFFFFF;
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((value >> bits) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

std::optional<std::string_view> MetadataRawValue(std::string_view header, std::string_view key) {
  std::optional<std::string_view> value;
  AnyListItem(header, [&](std::string_view pair) {
    size_t space = pair.find(' ');
    if (pair.substr(0, space) != key) return false;
    value = space == std::string_view::npos ? std::string_view() : pair.substr(space + 1);
    return true;
  });
  return value;
}

std::string MetadataValue(std::string_view header, std::string_view key) {
  auto raw = MetadataRawValue(header, key);
  return raw ? Base64Decode(*raw) : std::string();
}

std::string HttpDate(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

bool EtagListMatches(std::string_view header, std::string_view etag) {
  return AnyListItem(header, [&](std::string_view tag) {
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag == "*" || tag == etag;
  });
}

bool IsPlainWord(std::string_view text, std::string_view also) {
  if (text.empty() || text.size() > 64) return false;
  return std::all_of(text.begin(), text.end(), [also](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || also.find(c) != std::string_view::npos;
  });
}

}  // namespace vidproc::http
