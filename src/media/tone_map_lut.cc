#include "media/tone_map_lut.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "media/av_error.h"
#include "media/av_ptr.h"
#include "media/filter_graph.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>
}

namespace vidproc::media {
namespace {

constexpr int kMaxCode = 1023;  // 10-bit
// Fixed point of the chroma interpolation: 8 fraction bits per axis.
constexpr int kFracBits = 8;
constexpr int kFracOne = 1 << kFracBits;
// A table entry holds Y', Cb, Cr in three lanes of a 64-bit word.
constexpr int kLaneBits = 21;
constexpr uint64_t kLaneMask = (uint64_t{1} << kLaneBits) - 1;

bool IsHlg(const std::string& transfer) { return transfer == "arib-std-b67"; }

// What the tone curve depends on besides the transfer: tonemap takes its peak from these.
std::string LightLevelKey(const AVFrame* like) {
  std::string key;
  if (const AVFrameSideData* sd = av_frame_get_side_data(like, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL)) {
    key +=
        "cll=" + std::to_string(reinterpret_cast<const AVContentLightMetadata*>(sd->data)->MaxCLL);
  }
  if (const AVFrameSideData* sd =
          av_frame_get_side_data(like, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA)) {
    const auto* m = reinterpret_cast<const AVMasteringDisplayMetadata*>(sd->data);
    if (m->has_luminance) {
      key += ":max=" + std::to_string(m->max_luminance.num) + "/" +
             std::to_string(m->max_luminance.den);
    }
  }
  return key;
}

Status CopyLightLevels(const AVFrame* from, AVFrame* to) {
  for (AVFrameSideDataType type :
       {AV_FRAME_DATA_CONTENT_LIGHT_LEVEL, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA}) {
    const AVFrameSideData* sd = av_frame_get_side_data(from, type);
    if (!sd) continue;
    AVFrameSideData* copy = av_frame_new_side_data(to, type, sd->size);
    if (!copy) return Status(ErrorCode::kInternal, "Out of memory.");
    memcpy(copy->data, sd->data, sd->size);
  }
  return Status::Ok();
}

// The 10-bit code of chroma lattice point `node` of `nodes`.
double NodeCode(int node, int nodes) { return node * static_cast<double>(kMaxCode) / (nodes - 1); }

// Runs one frame through `filters` and returns what comes out.
Result<FramePtr> FilterOnce(AVFrame* frame, const std::string& filters) {
  FilterGraphPtr graph(avfilter_graph_alloc());
  if (!graph) return Status(ErrorCode::kInternal, "Out of memory.");
  graph->nb_threads = 1;
  char args[160];
  snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=1/1:pixel_aspect=1/1",
           frame->width, frame->height, frame->format);
  AVFilterContext* source = nullptr;
  AVFilterContext* sink = nullptr;
  int err = avfilter_graph_create_filter(&source, avfilter_get_by_name("buffer"), "in", args,
                                         nullptr, graph.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the lattice source");
  err = avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", nullptr,
                                     nullptr, graph.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the lattice sink");
  RETURN_IF_ERROR(LinkFilterChain(graph.get(), source, sink, filters, ErrorCode::kInternal));
  err = av_buffersrc_add_frame_flags(source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  if (err >= 0) err = av_buffersrc_add_frame_flags(source, nullptr, 0);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot tone-map the lattice");
  FramePtr out = MakeFrame();
  err = av_buffersink_get_frame(sink, out.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "The lattice did not come out");
  return out;
}

}  // namespace

std::string ReferenceToneMapFilters(const std::string& transfer, const std::string& resize) {
  std::string tin = transfer == "arib-std-b67" ? "arib-std-b67" : "smpte2084";
  return "zscale=" + resize + "tin=" + tin +
         ":pin=bt2020:min=bt2020nc:rin=tv:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
         "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv";
}

Result<std::shared_ptr<const ToneMapLut>> ToneMapLut::For(const std::string& transfer,
                                                          const AVFrame* like, int nodes) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const ToneMapLut>> built;
  std::string key = std::string(IsHlg(transfer) ? "hlg" : "pq") + "/" + std::to_string(nodes) +
                    "/" + LightLevelKey(like);
  std::lock_guard lock(mutex);
  auto it = built.find(key);
  if (it != built.end()) return it->second;
  ASSIGN_OR_RETURN(std::shared_ptr<const ToneMapLut> lut, Build(IsHlg(transfer), like, nodes));
  built.emplace(key, lut);
  return lut;
}

ToneMapLut::ToneMapLut(int nodes) : nodes_(nodes) {
  auto steps = [nodes](uint32_t stride) {
    std::vector<AxisStep> out(kCodes);
    for (int code = 0; code < kCodes; ++code) {
      int pos = code * (nodes - 1) * kFracOne / kMaxCode;
      int node = std::min(pos >> kFracBits, nodes - 2);
      out[code] = {static_cast<uint32_t>(node) * stride,
                   static_cast<uint32_t>(pos - (node << kFracBits))};
    }
    return out;
  };
  y_steps_ = steps(1);
  cb_steps_ = steps(nodes);
  cr_steps_ = steps(nodes * nodes);
}

Result<std::shared_ptr<const ToneMapLut>> ToneMapLut::Build(bool hlg, const AVFrame* like,
                                                            int nodes) {
  if (nodes < 2 || nodes > 129) return Status(ErrorCode::kInternal, "Bad tone-map lattice size");
  // One row per (Cb, Cr) lattice point, one column per Y' lattice point. 16-bit samples hold
  // 10-bit codes * 64, which zscale reads as the same limited-range levels.
  auto sample16 = [nodes](int node) {
    return static_cast<uint16_t>(std::lround(NodeCode(node, nodes) * 64));
  };
  FramePtr lattice = MakeFrame();
  lattice->format = AV_PIX_FMT_YUV444P16LE;
  lattice->width = nodes;
  lattice->height = nodes * nodes;
  int err = av_frame_get_buffer(lattice.get(), 0);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot allocate the lattice");
  for (int row = 0; row < lattice->height; ++row) {
    auto* y_row = reinterpret_cast<uint16_t*>(lattice->data[0] + row * lattice->linesize[0]);
    auto* cb_row = reinterpret_cast<uint16_t*>(lattice->data[1] + row * lattice->linesize[1]);
    auto* cr_row = reinterpret_cast<uint16_t*>(lattice->data[2] + row * lattice->linesize[2]);
    for (int x = 0; x < nodes; ++x) {
      y_row[x] = sample16(x);
      cb_row[x] = sample16(row % nodes);
      cr_row[x] = sample16(row / nodes);
    }
  }
  lattice->color_trc = hlg ? AVCOL_TRC_ARIB_STD_B67 : AVCOL_TRC_SMPTE2084;
  lattice->color_primaries = AVCOL_PRI_BT2020;
  lattice->colorspace = AVCOL_SPC_BT2020_NCL;
  lattice->color_range = AVCOL_RANGE_MPEG;
  RETURN_IF_ERROR(CopyLightLevels(like, lattice.get()));

  ASSIGN_OR_RETURN(
      FramePtr mapped,
      FilterOnce(lattice.get(), ReferenceToneMapFilters(hlg ? "arib-std-b67" : "smpte2084", "") +
                                    ",format=yuv444p16le"));
  if (mapped->format != AV_PIX_FMT_YUV444P16LE || mapped->width != lattice->width ||
      mapped->height != lattice->height) {
    return Status(ErrorCode::kInternal, "The tone-mapped lattice has the wrong shape");
  }
  std::shared_ptr<ToneMapLut> lut(new ToneMapLut(nodes));
  lut->table_.resize(static_cast<size_t>(nodes) * nodes * nodes);
  for (int row = 0; row < mapped->height; ++row) {
    auto row16 = [&](int plane) {
      return reinterpret_cast<const uint16_t*>(mapped->data[plane] + row * mapped->linesize[plane]);
    };
    uint64_t* out = &lut->table_[static_cast<size_t>(row) * nodes];
    for (int x = 0; x < nodes; ++x) {
      // 16-bit samples are 8-bit codes * 256; the lanes keep 4 bits of fraction (code * 16).
      // Capped at code 255: a saturated colour's chroma (and a highlight's luma) comes out of
      // zscale as high as 65535, 255.996 codes, which would round to 256 and wrap to 0 in a byte
      // (red turned dark green). FFmpeg 5.1.9's zscale no longer stops at 65280.
      auto lane = [&](int plane) -> uint64_t {
        return std::min<uint64_t>((row16(plane)[x] + 8u) >> 4, 255u * 16);
      };
      out[x] = lane(0) | lane(1) << kLaneBits | lane(2) << (2 * kLaneBits);
    }
  }
  return std::shared_ptr<const ToneMapLut>(std::move(lut));
}

void ToneMapLut::MapRow(const uint16_t* y_in, const uint16_t* cb_in, const uint16_t* cr_in, int w,
                        uint8_t* y_out, uint32_t* cb_out, uint32_t* cr_out) const {
  const uint64_t* table = table_.data();
  const AxisStep* y_steps = y_steps_.data();
  const AxisStep* cb_steps = cb_steps_.data();
  const AxisStep* cr_steps = cr_steps_.data();
  const uint32_t cb_stride = static_cast<uint32_t>(nodes_), cr_stride = cb_stride * cb_stride;
  for (int x = 0; x < w; ++x) {
    const AxisStep sy = y_steps[std::min<int>(y_in[x], kMaxCode)];
    const AxisStep sb = cb_steps[std::min<int>(cb_in[x], kMaxCode)];
    const AxisStep sr = cr_steps[std::min<int>(cr_in[x], kMaxCode)];
    // Tetrahedral: from the lower corner v0 along the axis of the largest fraction (v1), then the
    // next (v2), to the far corner v3. Written as selections rather than a sort so the compiler
    // emits conditional moves: the fractions are noise to a branch predictor.
    uint32_t f1 = sy.frac, s1 = 1, f3 = sy.frac, s3 = 1;
    if (sb.frac > f1) f1 = sb.frac, s1 = cb_stride;
    if (sr.frac > f1) f1 = sr.frac, s1 = cr_stride;
    if (sb.frac < f3) f3 = sb.frac, s3 = cb_stride;
    if (sr.frac < f3) f3 = sr.frac, s3 = cr_stride;
    const uint32_t f2 = sy.frac + sb.frac + sr.frac - f1 - f3;
    const uint64_t* v0 = table + sy.offset + sb.offset + sr.offset;
    const uint64_t* v3 = v0 + 1 + cb_stride + cr_stride;
    const uint64_t* v1 = v0 + s1;
    const uint64_t* v2 = v3 - s3;
    // The three channels are added in their 21-bit lanes at once: 12-bit entries times weights
    // summing to 256 stay below 2^20 per lane.
    const uint64_t sum = (kFracOne - f1) * *v0 + (f1 - f2) * *v1 + (f2 - f3) * *v2 + f3 * *v3;
    y_out[x] = static_cast<uint8_t>(((sum & kLaneMask) + (1u << 11)) >> 12);
    cb_out[x] = static_cast<uint32_t>((sum >> kLaneBits) & kLaneMask);
    cr_out[x] = static_cast<uint32_t>(sum >> (2 * kLaneBits));
  }
}

Status ToneMapLut::Apply(const AVFrame* in, AVFrame* out) const {
  if (in->format != AV_PIX_FMT_YUV444P10LE) {
    return Status(ErrorCode::kInternal, "The tone-map table takes yuv444p10le pictures");
  }
  av_frame_unref(out);
  out->format = AV_PIX_FMT_YUV420P;
  out->width = in->width;
  out->height = in->height;
  int err = av_frame_get_buffer(out, 0);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot allocate a picture");
  err = av_frame_copy_props(out, in);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot copy picture properties");
  out->color_trc = AVCOL_TRC_BT709;
  out->color_primaries = AVCOL_PRI_BT709;
  out->colorspace = AVCOL_SPC_BT709;
  out->color_range = AVCOL_RANGE_MPEG;
  out->chroma_location = AVCHROMA_LOC_LEFT;
  // The picture is SDR now: HDR metadata no longer describes it.
  for (AVFrameSideDataType hdr_only :
       {AV_FRAME_DATA_CONTENT_LIGHT_LEVEL, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA,
        AV_FRAME_DATA_DYNAMIC_HDR_PLUS}) {
    av_frame_remove_side_data(out, hdr_only);
  }

  const int w = in->width, h = in->height;
  auto row16 = [in](int plane, int y) {
    return reinterpret_cast<const uint16_t*>(in->data[plane] + y * in->linesize[plane]);
  };
  // Two mapped rows of chroma (8-bit codes * 4096) at a time, then subsampled to one.
  std::vector<uint32_t> chroma(4 * static_cast<size_t>(w));
  uint32_t* cb_rows[2] = {chroma.data(), chroma.data() + w};
  uint32_t* cr_rows[2] = {chroma.data() + 2 * w, chroma.data() + 3 * w};
  for (int cy = 0; cy < (h + 1) / 2; ++cy) {
    for (int r = 0; r < 2; ++r) {
      int y = std::min(2 * cy + r, h - 1);
      MapRow(row16(0, y), row16(1, y), row16(2, y), w, out->data[0] + y * out->linesize[0],
             cb_rows[r], cr_rows[r]);
    }
    // 4:2:0 as the reference's zscale subsamples: chroma sited on the even column (MPEG-2),
    // taps 1/4 1/2 1/4 across columns, the mean of the two rows.
    uint8_t* cb_out = out->data[1] + cy * out->linesize[1];
    uint8_t* cr_out = out->data[2] + cy * out->linesize[2];
    for (int cx = 0; cx < (w + 1) / 2; ++cx) {
      int even = 2 * cx, odd = std::min(even + 1, w - 1), left = even > 0 ? even - 1 : odd;
      uint32_t cb = cb_rows[0][left] + cb_rows[1][left] +
                    2 * (cb_rows[0][even] + cb_rows[1][even]) + cb_rows[0][odd] + cb_rows[1][odd];
      uint32_t cr = cr_rows[0][left] + cr_rows[1][left] +
                    2 * (cr_rows[0][even] + cr_rows[1][even]) + cr_rows[0][odd] + cr_rows[1][odd];
      cb_out[cx] = static_cast<uint8_t>((cb + (1u << 14)) >> 15);
      cr_out[cx] = static_cast<uint8_t>((cr + (1u << 14)) >> 15);
    }
  }
  return Status::Ok();
}

}  // namespace vidproc::media
