// Reading HLS playlists in tests: the URIs a player would fetch, in order.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace vidproc::testing {

// Every URI of `playlist`: the init segment's (#EXT-X-MAP) and each line that is not a tag.
inline std::vector<std::string> PlaylistUris(const std::string& playlist) {
  std::vector<std::string> out;
  std::stringstream lines(playlist);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#EXT-X-MAP:URI=\"", 0) == 0) out.push_back(line.substr(16, line.size() - 17));
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

}  // namespace vidproc::testing
