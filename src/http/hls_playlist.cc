#include "http/hls_playlist.h"

#include <array>

#include "storage/blob_store.h"

namespace vidproc::http {
namespace {

// The tags media/hls_output.cc writes; EXT-X-MAP is the one that carries a URI.
constexpr std::array<std::string_view, 10> kTags = {"#EXTM3U",
                                                    "#EXT-X-VERSION:",
                                                    "#EXT-X-TARGETDURATION:",
                                                    "#EXT-X-MEDIA-SEQUENCE:",
                                                    "#EXT-X-PLAYLIST-TYPE:",
                                                    "#EXT-X-INDEPENDENT-SEGMENTS",
                                                    "#EXTINF:",
                                                    "#EXT-X-ENDLIST",
                                                    "#EXT-X-STREAM-INF:",
                                                    "#EXT-X-MAP:URI=\""};

bool IsPlainText(std::string_view line) {
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string RewritePlaylist(std::string_view text,
                            const std::function<std::string(const std::string& name)>& url_for) {
  std::string out;
  std::string pending;  // an #EXTINF or #EXT-X-STREAM-INF waiting for its URI
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || !IsPlainText(line)) continue;
    if (line[0] != '#') {
      const std::string name(line);
      if (!pending.empty() && storage::IsHlsFileName(name)) {
        out += pending + url_for(name) + "\n";
      }
      pending.clear();
      continue;
    }
    std::string_view tag;
    for (std::string_view t : kTags) {
      if (line.substr(0, t.size()) == t) tag = t;
    }
    if (tag.empty()) continue;
    if (tag == "#EXT-X-MAP:URI=\"") {
      std::string_view rest = line.substr(tag.size());
      const size_t quote = rest.find('"');
      if (quote == std::string_view::npos || quote + 1 != rest.size()) continue;
      const std::string name(rest.substr(0, quote));
      if (storage::IsHlsFileName(name)) out += "#EXT-X-MAP:URI=\"" + url_for(name) + "\"\n";
    } else if (tag == "#EXTINF:" || tag == "#EXT-X-STREAM-INF:") {
      pending = std::string(line) + "\n";
    } else {
      out += std::string(line) + "\n";
    }
  }
  return out;
}

}  // namespace vidproc::http
