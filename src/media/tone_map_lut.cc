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
                                                          const AVFrame* like, int chroma_nodes) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const ToneMapLut>> built;
  std::string key = std::string(IsHlg(transfer) ? "hlg" : "pq") + "/" +
                    std::to_string(chroma_nodes) + "/" + LightLevelKey(like);
  std::lock_guard lock(mutex);
  auto it = built.find(key);
  if (it != built.end()) return it->second;
  ASSIGN_OR_RETURN(std::shared_ptr<const ToneMapLut> lut,
                   Build(IsHlg(transfer), like, chroma_nodes));
  built.emplace(key, lut);
  return lut;
}

Result<std::shared_ptr<const ToneMapLut>> ToneMapLut::Build(bool hlg, const AVFrame* like,
                                                            int chroma_nodes) {
  if (chroma_nodes < 2 || chroma_nodes > 129) {
    return Status(ErrorCode::kInternal, "Bad tone-map lattice size");
  }
  // One row per (Cb, Cr) lattice point, one column per luma code; 16-bit samples hold the
  // 10-bit codes exactly (code * 64), which zscale reads as the same limited-range levels.
  FramePtr lattice = MakeFrame();
  lattice->format = AV_PIX_FMT_YUV444P16LE;
  lattice->width = kLumaCodes;
  lattice->height = chroma_nodes * chroma_nodes;
  int err = av_frame_get_buffer(lattice.get(), 0);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot allocate the lattice");
  for (int row = 0; row < lattice->height; ++row) {
    auto cb = static_cast<uint16_t>(std::lround(NodeCode(row % chroma_nodes, chroma_nodes) * 64));
    auto cr = static_cast<uint16_t>(std::lround(NodeCode(row / chroma_nodes, chroma_nodes) * 64));
    auto* y_row = reinterpret_cast<uint16_t*>(lattice->data[0] + row * lattice->linesize[0]);
    auto* cb_row = reinterpret_cast<uint16_t*>(lattice->data[1] + row * lattice->linesize[1]);
    auto* cr_row = reinterpret_cast<uint16_t*>(lattice->data[2] + row * lattice->linesize[2]);
    for (int x = 0; x < kLumaCodes; ++x) {
      y_row[x] = static_cast<uint16_t>(x * 64);
      cb_row[x] = cb;
      cr_row[x] = cr;
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
  std::shared_ptr<ToneMapLut> lut(new ToneMapLut(chroma_nodes));
  lut->table_.resize(static_cast<size_t>(lattice->height) * kLumaCodes);
  for (int row = 0; row < mapped->height; ++row) {
    const auto* y_row =
        reinterpret_cast<const uint16_t*>(mapped->data[0] + row * mapped->linesize[0]);
    const auto* cb_row =
        reinterpret_cast<const uint16_t*>(mapped->data[1] + row * mapped->linesize[1]);
    const auto* cr_row =
        reinterpret_cast<const uint16_t*>(mapped->data[2] + row * mapped->linesize[2]);
    Entry* out = &lut->table_[static_cast<size_t>(row) * kLumaCodes];
    for (int x = 0; x < kLumaCodes; ++x) out[x] = {y_row[x], cb_row[x], cr_row[x]};
  }
  return std::shared_ptr<const ToneMapLut>(std::move(lut));
}

// The four chroma lattice columns around (cb, cr) and their bilinear weights (sum 2^16); luma
// is exact, so interpolation is only ever across chroma.
void ToneMapLut::Locate(int cb, int cr, const Entry* columns[4], uint64_t weights[4]) const {
  const int step = chroma_nodes_ - 1;
  int cb_pos = std::min(cb, kMaxCode) * step * kFracOne / kMaxCode;
  int cr_pos = std::min(cr, kMaxCode) * step * kFracOne / kMaxCode;
  int cb_node = std::min(cb_pos >> kFracBits, step - 1);
  int cr_node = std::min(cr_pos >> kFracBits, step - 1);
  uint64_t fb = cb_pos - (cb_node << kFracBits);
  uint64_t fr = cr_pos - (cr_node << kFracBits);
  columns[0] = Column(cb_node, cr_node);
  columns[1] = Column(cb_node + 1, cr_node);
  columns[2] = Column(cb_node, cr_node + 1);
  columns[3] = Column(cb_node + 1, cr_node + 1);
  weights[0] = (kFracOne - fb) * (kFracOne - fr);
  weights[1] = fb * (kFracOne - fr);
  weights[2] = (kFracOne - fb) * fr;
  weights[3] = fb * fr;
}

ToneMapLut::Mapped ToneMapLut::Map(int y, int cb, int cr) const {
  const Entry* c[4];
  uint64_t wt[4];
  Locate(cb, cr, c, wt);
  y = std::min(y, kMaxCode);
  uint64_t ys = wt[0] * c[0][y].y + wt[1] * c[1][y].y + wt[2] * c[2][y].y + wt[3] * c[3][y].y;
  uint64_t cbs = wt[0] * c[0][y].cb + wt[1] * c[1][y].cb + wt[2] * c[2][y].cb + wt[3] * c[3][y].cb;
  uint64_t crs = wt[0] * c[0][y].cr + wt[1] * c[1][y].cr + wt[2] * c[2][y].cr + wt[3] * c[3][y].cr;
  // Weights sum to 2^16, entries are 8-bit codes * 256: 24 bits to drop for luma; chroma stays
  // in 16-bit units until it is filtered.
  return {static_cast<uint8_t>((ys + (1u << 23)) >> 24), static_cast<uint32_t>(cbs >> 16),
          static_cast<uint32_t>(crs >> 16)};
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
  av_frame_remove_side_data(out, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
  av_frame_remove_side_data(out, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);

  const int w = in->width, h = in->height;
  auto row16 = [in](int plane, int y) {
    return reinterpret_cast<const uint16_t*>(in->data[plane] + y * in->linesize[plane]);
  };
  for (int cy = 0; cy < (h + 1) / 2; ++cy) {
    const int rows[2] = {2 * cy, std::min(2 * cy + 1, h - 1)};
    uint8_t* y_out[2] = {out->data[0] + rows[0] * out->linesize[0],
                         out->data[0] + rows[1] * out->linesize[0]};
    uint8_t* cb_out = out->data[1] + cy * out->linesize[1];
    uint8_t* cr_out = out->data[2] + cy * out->linesize[2];
    // 4:2:0 as the reference's zscale subsamples: chroma sited on the even column (MPEG-2),
    // taps 1/4 1/2 1/4 across columns, the mean of the two rows.
    uint32_t cb_left = 0, cr_left = 0;  // the odd column left of the current pair, both rows
    for (int cx = 0; cx < (w + 1) / 2; ++cx) {
      const int cols[2] = {2 * cx, std::min(2 * cx + 1, w - 1)};
      uint32_t cb_col[2] = {0, 0}, cr_col[2] = {0, 0};
      for (int r = 0; r < 2; ++r) {
        const uint16_t* y_in = row16(0, rows[r]);
        const uint16_t* cb_in = row16(1, rows[r]);
        const uint16_t* cr_in = row16(2, rows[r]);
        for (int i = 0; i < 2; ++i) {
          Mapped m = Map(y_in[cols[i]], cb_in[cols[i]], cr_in[cols[i]]);
          y_out[r][cols[i]] = m.y;
          cb_col[i] += m.cb;
          cr_col[i] += m.cr;
        }
      }
      if (cx == 0) {  // mirrored at the left edge
        cb_left = cb_col[1];
        cr_left = cr_col[1];
      }
      cb_out[cx] = static_cast<uint8_t>((cb_left + 2 * cb_col[0] + cb_col[1] + (1u << 10)) >> 11);
      cr_out[cx] = static_cast<uint8_t>((cr_left + 2 * cr_col[0] + cr_col[1] + (1u << 10)) >> 11);
      cb_left = cb_col[1];
      cr_left = cr_col[1];
    }
  }
  return Status::Ok();
}

}  // namespace vidproc::media
