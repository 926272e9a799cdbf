#pragma once

#include <string>

namespace vidproc {

// A new random id: 22 URL-safe characters (132 bits from the kernel's CSPRNG), for videos,
// lease tokens and temporary names.
std::string NewId();

}  // namespace vidproc
