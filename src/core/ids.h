#pragma once

#include <string>

namespace vidproc {

// A new random id: 22 URL-safe characters (132 bits from the kernel's CSPRNG), for videos,
// lease tokens and temporary names.
std::string NewId();

// This machine's host name (gethostname): the default worker id's first part, and how the workers
// of one machine find each other in the registry. "" if it cannot be read.
std::string HostName();

}  // namespace vidproc
