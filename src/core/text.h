// Untrusted text made safe where it enters: a file name from an upload, a header or tus metadata
// value, anything a container or the transcoder child says. One bad byte stored as it came once
// made every later JSON dump of the record throw (a 500 for the list, a dead SSE poller, a
// webhook dispatcher that crashed the process on every restart), so text is cleaned once, at the
// boundary, and the JSON writer replaces what slipped through instead of throwing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vidproc {

// The default cap of SanitizeText: long enough for any real label or message.
inline constexpr size_t kMaxTextBytes = 4096;

// `bytes` as text that is safe to store, to put in JSON and to show:
//   - valid UTF-8: every ill-formed sequence becomes U+FFFD, one per maximal subpart (Unicode
//     3.9, "U+FFFD Substitution of Maximal Subparts", as browsers decode): stray continuation
//     bytes, overlong forms (C0 80 for NUL, C0 AF for '/'), encoded UTF-16 surrogates, sequences
//     cut short, the bytes C0, C1 and F5-FF, code points above U+10FFFF;
//   - without control characters (IsUnsafeCodePoint): C0 (NUL, TAB, LF, CR, ESC, ...), DEL, C1,
//     the line and paragraph separators, and the bidirectional formatting characters that make
//     a name read differently from what it is ("txt.exe" shown as "exe.txt");
//   - at most `max_bytes` bytes, cut before a code point that does not fit whole.
// Pure and total: any input gives a result, nothing throws (but std::bad_alloc).
std::string SanitizeText(std::string_view bytes, size_t max_bytes = kMaxTextBytes);

// A file name from a client (an upload, a path given to `vidproc enqueue`) as a label: its last
// path component (after the last '/' or '\': C:\Users\me\trip.mov is trip.mov) through
// SanitizeText, at most kMaxFilenameBytes, "upload" when nothing is left. It never names a file.
inline constexpr size_t kMaxFilenameBytes = 255;
std::string SanitizeFilename(std::string_view name);

// True if SanitizeText(text, max) == text for a cap that is not reached: valid UTF-8 without
// unsafe code points.
bool IsSafeText(std::string_view text);

// A web origin as browsers send it in `Origin` (RFC 6454): "http://" or "https://", a host
// name or address ([...] for IPv6) and an optional port, nothing else (no user, path, query or
// fragment; one trailing '/' is forgiven). Returned in lower case without the '/'; nullopt for
// anything else.
std::optional<std::string> ParseOrigin(std::string_view text);

// Every string in `value` (object keys too), recursively, through SanitizeText(s, max_bytes).
nlohmann::json SanitizeJson(const nlohmann::json& value, size_t max_bytes = kMaxTextBytes);

// The JSON text of `value` (as json::dump(indent)), never throwing: a string that is not valid
// UTF-8 has its bad bytes replaced by U+FFFD. The last line of defence (strings are cleaned
// where they enter): every JSON document vidproc writes goes through this.
std::string DumpJson(const nlohmann::json& value, int indent = -1);

// --- Suggestions for mistyped names (commands, settings).

// The optimal string alignment distance of `a` and `b`: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost one, compared case-insensitively (ASCII).
size_t EditDistance(std::string_view a, std::string_view b);

// Of `candidates`, the one closest to `typed` if it is close enough to be what was meant (a
// distance of at most one for names up to 4 characters, two up to 12, three beyond) and not
// `typed` itself; empty otherwise. Ties go to the first candidate.
template <typename Range>
std::string ClosestName(std::string_view typed, const Range& candidates);

// --- The decoder under SanitizeText, for code that renders text its own way (log quoting).

// The first code point of non-empty `bytes`: its value and its length in bytes when `valid`;
// else the length of the maximal ill-formed subpart at the start (1 to 3 bytes), to be shown as
// one U+FFFD or byte by byte.
struct Utf8Step {
  char32_t code_point = 0;
  size_t length = 0;
  bool valid = false;
};
Utf8Step DecodeUtf8(std::string_view bytes);

// Code points that are never kept in untrusted text: C0 controls (U+0000-U+001F), DEL, C1
// controls (U+0080-U+009F), LINE SEPARATOR and PARAGRAPH SEPARATOR (U+2028, U+2029: line breaks
// to some viewers), and the Bidi_Control characters (U+061C, U+200E, U+200F, U+202A-U+202E,
// U+2066-U+2069).
bool IsUnsafeCodePoint(char32_t c);

size_t SuggestionDistanceLimit(std::string_view typed);

template <typename Range>
std::string ClosestName(std::string_view typed, const Range& candidates) {
  std::string best;
  size_t best_distance = SuggestionDistanceLimit(typed) + 1;
  for (const auto& candidate : candidates) {
    std::string_view c(candidate);
    if (c == typed) continue;
    size_t d = EditDistance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(c);
    }
  }
  return best;
}

}  // namespace vidproc
