// The web page served at GET / (web/index.html, embedded in the binary at build time).
#pragma once

#include <string_view>

namespace vidproc::http {

std::string_view WebPage();

}  // namespace vidproc::http
