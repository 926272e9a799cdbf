#pragma once

#include <string>

#include "core/status.h"

extern "C" {
#include <libavfilter/avfilter.h>
}

namespace vidproc::media {

// Connects source -> `chain` (libavfilter syntax) -> sink inside `graph` and configures the graph.
// A chain that does not parse is an internal error; one that cannot be configured for these
// frames is `config_error` ("the picture format cannot be converted").
Status LinkFilterChain(AVFilterGraph* graph, AVFilterContext* source, AVFilterContext* sink,
                       const std::string& chain, ErrorCode config_error);

}  // namespace vidproc::media
