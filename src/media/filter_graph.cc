#include "media/filter_graph.h"

#include "media/av_error.h"
#include "media/av_ptr.h"

namespace vidproc::media {

Status LinkFilterChain(AVFilterGraph* graph, AVFilterContext* source, AVFilterContext* sink,
                       const std::string& chain, ErrorCode config_error) {
  // The chain's open input is fed by `source` ("in"), its open output feeds `sink` ("out").
  FilterInOutPtr outputs(avfilter_inout_alloc());
  FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) return Status(ErrorCode::kInternal, "Out of memory.");
  outputs->name = av_strdup("in");
  outputs->filter_ctx = source;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = sink;
  AVFilterInOut* in_ptr = inputs.release();
  AVFilterInOut* out_ptr = outputs.release();
  int err = avfilter_graph_parse_ptr(graph, chain.c_str(), &in_ptr, &out_ptr, nullptr);
  avfilter_inout_free(&in_ptr);
  avfilter_inout_free(&out_ptr);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Bad filter chain '" + chain + "'");
  err = avfilter_graph_config(graph, nullptr);
  if (err < 0) {
    return FromAvError(err, config_error, "The stream cannot be converted ('" + chain + "')");
  }
  return Status::Ok();
}

}  // namespace vidproc::media
