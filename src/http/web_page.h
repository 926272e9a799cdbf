// The web page served at GET / (web/index.html) and what it loads, embedded in the binary at
// build time.
#pragma once

#include <string_view>

namespace vidproc::http {

std::string_view WebPage();
// hls.js's light build (web/package.json), which the page loads to play HLS in browsers that do
// not play it themselves: GET /assets/hls.js.
std::string_view HlsJs();

}  // namespace vidproc::http
