// The parsers and formatters of HTTP header and query values the API reads and writes: pure
// functions on strings (no server, no I/O), so each is tested on its own
// (tests/http/headers_test.cc). Hostile input never throws: it is refused or read as absent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vidproc::http {

// "bytes=0-99" against a blob of `size`: [offset, length]; nullopt when unsatisfiable; {0, size}
// when absent or not a single byte range (multi-range requests get the whole file).
struct ByteRange {
  int64_t offset = 0;
  int64_t length = 0;
  bool partial = false;
};
std::optional<ByteRange> ParseRange(std::string_view header, int64_t size);

// Percent-decoding of a query value ('+' is a space); a '%' not followed by two hex digits stays.
std::string UrlDecode(std::string_view text);
// The decoded value of `name` in a query string ("a=1&b=2"); "" for a name without '=', nullopt
// when the name is not there.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);

// A header or query value that must be a whole number of 0 or more.
std::optional<int64_t> ParseNonNegative(std::string_view text);

// Standard base64 (RFC 4648 4); decoding stops at padding or the first character outside the
// alphabet.
std::string Base64Decode(std::string_view in);
// The value of `key` in a tus Upload-Metadata header ("key base64,key2 base64"); "" when absent.
std::string MetadataValue(std::string_view header, std::string_view key);
// The same value as sent (still base64; empty for a key without a value); nullopt when absent.
std::optional<std::string_view> MetadataRawValue(std::string_view header, std::string_view key);

// An IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(int64_t unix_s);

// If-None-Match (RFC 9110 13.1.2): "*", or a comma-separated list of tags compared weakly.
bool EtagListMatches(std::string_view header, std::string_view etag);

// 1 to 64 ASCII letters, digits and characters of `also`: what may stand in a log line or a
// path segment we echo (a video id, an X-Request-Id) without escaping.
bool IsPlainWord(std::string_view text, std::string_view also);

}  // namespace vidproc::http
