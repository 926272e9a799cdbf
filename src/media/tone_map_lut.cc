#include "media/tone_map_lut.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VIDPROC_TONE_MAP_AVX2 1
#endif

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

// One 4:2:0 chroma row from two mapped rows (8-bit codes * 4096), output columns [from, to), as
// the reference's zscale subsamples: chroma sited on the even column (MPEG-2), taps 1/4 1/2 1/4
// across columns, the mean of the two rows.
void Subsample420(const uint32_t* row0, const uint32_t* row1, int w, int from, int to,
                  uint8_t* out) {
  for (int cx = from; cx < to; ++cx) {
    int even = 2 * cx, odd = std::min(even + 1, w - 1), left = even > 0 ? even - 1 : odd;
    uint32_t sum = row0[left] + row1[left] + 2 * (row0[even] + row1[even]) + row0[odd] + row1[odd];
    out[cx] = static_cast<uint8_t>((sum + (1u << 14)) >> 15);
  }
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
  lut->table16_.resize(lut->table_.size());
  for (size_t i = 0; i < lut->table_.size(); ++i) {
    const uint64_t e = lut->table_[i];
    lut->table16_[i] =
        (e & kLaneMask) | ((e >> kLaneBits) & kLaneMask) << 16 | (e >> (2 * kLaneBits)) << 32;
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

bool ToneMapLut::HasAvx2() {
#if VIDPROC_TONE_MAP_AVX2
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
#else
  return false;
#endif
}

#if VIDPROC_TONE_MAP_AVX2
namespace {

#define VIDPROC_AVX2 __attribute__((target("avx2")))

// Where 8 codes fall on an axis of `nodes` lattice points: the lower point's index and the
// distance past it, exactly as the scalar steps compute them. code * (nodes - 1) * 256 / 1023 is
// a multiply by 2^32 * 256 / 1023 (rounded up) keeping the high half, exact for every 10-bit code
// and lattice size up to 129; AVX2 multiplies 32 by 32 bits only in the even lanes, so the odd
// ones go in a second multiply.
VIDPROC_AVX2 inline void Avx2Steps(const uint16_t* in, __m256i nodes_less_1, __m256i top_node,
                                   __m256i& node, __m256i& frac) {
  __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  codes = _mm_min_epu16(codes, _mm_set1_epi16(kMaxCode));
  const __m256i a = _mm256_mullo_epi32(_mm256_cvtepu16_epi32(codes), nodes_less_1);
  const __m256i magic = _mm256_set1_epi32(
      static_cast<int>(((uint64_t{1} << 32) * kFracOne + kMaxCode - 1) / kMaxCode));
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a, magic), 32);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), magic);
  const __m256i pos = _mm256_blend_epi32(even, odd, 0xAA);
  node = _mm256_min_epi32(_mm256_srli_epi32(pos, kFracBits), top_node);
  frac = _mm256_sub_epi32(pos, _mm256_slli_epi32(node, kFracBits));
}

// `mask` (all ones or zeros per 32-bit lane) ? b : a, in one instruction (vblendvps; GCC turns
// the byte-wise vpblendvb into two).
VIDPROC_AVX2 inline __m256i Avx2Select(__m256i a, __m256i b, __m256i mask) {
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(mask)));
}

// The table entries at indices[p], indices[q] (low half) and indices[r], indices[s] (high half).
// Plain loads: on the AMD EPYC this was measured on, vpgatherdq takes twice as long per entry.
VIDPROC_AVX2 inline __m128i Avx2FetchPair(const long long* table, uint32_t i, uint32_t j) {
  return _mm_insert_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(table + i)), table[j],
                          1);
}
VIDPROC_AVX2 inline __m256i Avx2Fetch(const long long* table, const uint32_t* indices, int p, int q,
                                      int r, int s) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(Avx2FetchPair(table, indices[p], indices[q])),
      Avx2FetchPair(table, indices[r], indices[s]), 1);
}

// The weighted sums of the four vertices of pixels kFirst|kFirst+4 (lo) and kFirst+1|kFirst+5
// (hi), kFirst 0 or 2. Each vertex's entries of pixels kFirst kFirst+1 | kFirst+4 kFirst+5 are
// loaded into one register; interleaving two vertices' 16-bit lanes pairs their channels for
// vpmaddwd, and an in-lane shuffle finds each pixel's weights (w01: the weights of v0 and v1 in
// 16-bit lanes, w23: of v2 and v3).
template <int kFirst>
VIDPROC_AVX2 inline void Avx2Weigh(const long long* table, const uint32_t (*vertex)[8], __m256i w01,
                                   __m256i w23, __m256i& lo, __m256i& hi) {
  constexpr int p = kFirst, q = kFirst + 1, r = kFirst + 4, s = kFirst + 5;
  const __m256i a0 = Avx2Fetch(table, vertex[0], p, q, r, s);
  const __m256i a1 = Avx2Fetch(table, vertex[1], p, q, r, s);
  const __m256i a2 = Avx2Fetch(table, vertex[2], p, q, r, s);
  const __m256i a3 = Avx2Fetch(table, vertex[3], p, q, r, s);
  constexpr int kLo = kFirst * 0x55, kHi = (kFirst + 1) * 0x55;  // dword kFirst (kFirst+1), x4
  lo = _mm256_add_epi32(
      _mm256_madd_epi16(_mm256_unpacklo_epi16(a0, a1), _mm256_shuffle_epi32(w01, kLo)),
      _mm256_madd_epi16(_mm256_unpacklo_epi16(a2, a3), _mm256_shuffle_epi32(w23, kLo)));
  hi = _mm256_add_epi32(
      _mm256_madd_epi16(_mm256_unpackhi_epi16(a0, a1), _mm256_shuffle_epi32(w01, kHi)),
      _mm256_madd_epi16(_mm256_unpackhi_epi16(a2, a3), _mm256_shuffle_epi32(w23, kHi)));
}

// row0[0..7] + row1[0..7], as floats' bits (for vshufps).
VIDPROC_AVX2 inline __m256 Avx2ColumnSums(const uint32_t* row0, const uint32_t* row1) {
  return _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0)),
                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row1))));
}

// Subsample420 over a whole row, 8 output columns at a time where all their taps are inside it.
VIDPROC_AVX2 void Subsample420Avx2(const uint32_t* row0, const uint32_t* row1, int w,
                                   uint8_t* out) {
  const int outputs = (w + 1) / 2;
  Subsample420(row0, row1, w, 0, std::min(1, outputs), out);
  int cx = 1;
  for (; 2 * cx + 16 <= w; cx += 8) {
    const int x = 2 * cx;
    const __m256 a = Avx2ColumnSums(row0 + x, row1 + x);
    const __m256 b = Avx2ColumnSums(row0 + x + 8, row1 + x + 8);
    const __m256 l0 = Avx2ColumnSums(row0 + x - 1, row1 + x - 1);
    const __m256 l1 = Avx2ColumnSums(row0 + x + 7, row1 + x + 7);
    // Even and odd columns, as outputs 0 1 4 5 | 2 3 6 7.
    const __m256i even = _mm256_castps_si256(_mm256_shuffle_ps(a, b, 0x88));
    const __m256i odd = _mm256_castps_si256(_mm256_shuffle_ps(a, b, 0xDD));
    const __m256i left = _mm256_castps_si256(_mm256_shuffle_ps(l0, l1, 0x88));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(left, odd), _mm256_slli_epi32(even, 1));
    sum = _mm256_srli_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(1 << 14)), 15);
    const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(sum, sum), sum);
    _mm_storel_epi64(
        reinterpret_cast<__m128i*>(out + cx),
        _mm_unpacklo_epi16(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1)));
  }
  Subsample420(row0, row1, w, cx, outputs, out);
}

}  // namespace

// MapRow's arithmetic on 8 pixels per step: the same lattice points, weights and sums, so the
// output is the scalar kernel's bit for bit. Each vertex's three channels come in 16-bit lanes
// (table16_), and vpmaddwd weighs two vertices of a pixel at once.
VIDPROC_AVX2 void ToneMapLut::MapRowAvx2(const uint16_t* y_in, const uint16_t* cb_in,
                                         const uint16_t* cr_in, int w, uint8_t* y_out,
                                         uint32_t* cb_out, uint32_t* cr_out) const {
  const auto* table = reinterpret_cast<const long long*>(table16_.data());
  const int nodes = nodes_;  // a local: not reloaded after every store
  const __m256i nodes_less_1 = _mm256_set1_epi32(nodes - 1);
  const __m256i top_node = _mm256_set1_epi32(nodes - 2);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i cb_stride = _mm256_set1_epi32(nodes);
  const __m256i cr_stride = _mm256_set1_epi32(nodes * nodes);
  const __m256i far_corner = _mm256_set1_epi32(1 + nodes + nodes * nodes);
  const __m256i frac_one = _mm256_set1_epi32(kFracOne);
  const __m256i y_round = _mm256_set1_epi32(1 << 11);
  alignas(32) uint32_t vertex[4][8];
  int x = 0;
  for (; x + 8 <= w; x += 8) {
    __m256i ny, fy, nb, fb, nr, fr;
    Avx2Steps(y_in + x, nodes_less_1, top_node, ny, fy);
    Avx2Steps(cb_in + x, nodes_less_1, top_node, nb, fb);
    Avx2Steps(cr_in + x, nodes_less_1, top_node, nr, fr);
    const __m256i v0 = _mm256_add_epi32(
        ny, _mm256_add_epi32(_mm256_mullo_epi32(nb, cb_stride), _mm256_mullo_epi32(nr, cr_stride)));
    // The scalar kernel's selections: the largest fraction (the first of equals, in the order
    // Y', Cb, Cr) and its axis, then the smallest.
    const __m256i fyb_max = _mm256_max_epi32(fy, fb);
    const __m256i f1 = _mm256_max_epi32(fyb_max, fr);
    const __m256i s1 = Avx2Select(Avx2Select(one, cb_stride, _mm256_cmpgt_epi32(fb, fy)), cr_stride,
                                  _mm256_cmpgt_epi32(fr, fyb_max));
    const __m256i fyb_min = _mm256_min_epi32(fy, fb);
    const __m256i f3 = _mm256_min_epi32(fyb_min, fr);
    const __m256i s3 = Avx2Select(Avx2Select(one, cb_stride, _mm256_cmpgt_epi32(fy, fb)), cr_stride,
                                  _mm256_cmpgt_epi32(fyb_min, fr));
    const __m256i f2 =
        _mm256_sub_epi32(_mm256_add_epi32(fy, _mm256_add_epi32(fb, fr)), _mm256_add_epi32(f1, f3));
    // Weights of v0 and v1, and of v2 and v3, side by side in 16-bit lanes.
    const __m256i w01 = _mm256_or_si256(_mm256_sub_epi32(frac_one, f1),
                                        _mm256_slli_epi32(_mm256_sub_epi32(f1, f2), 16));
    const __m256i w23 = _mm256_or_si256(_mm256_sub_epi32(f2, f3), _mm256_slli_epi32(f3, 16));
    const __m256i v3 = _mm256_add_epi32(v0, far_corner);
    _mm256_store_si256(reinterpret_cast<__m256i*>(vertex[0]), v0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(vertex[1]), _mm256_add_epi32(v0, s1));
    _mm256_store_si256(reinterpret_cast<__m256i*>(vertex[2]), _mm256_sub_epi32(v3, s3));
    _mm256_store_si256(reinterpret_cast<__m256i*>(vertex[3]), v3);
    __m256i p04, p15, p26, p37;  // [Y' Cb Cr 0] sums of pixels 0|4, 1|5, 2|6, 3|7
    Avx2Weigh<0>(table, vertex, w01, w23, p04, p15);
    Avx2Weigh<2>(table, vertex, w01, w23, p26, p37);
    const __m256i yb01 = _mm256_unpacklo_epi32(p04, p15);  // Y0 Y1 Cb0 Cb1 | Y4 Y5 Cb4 Cb5
    const __m256i r01 = _mm256_unpackhi_epi32(p04, p15);   // Cr0 Cr1 0 0 | Cr4 Cr5 0 0
    const __m256i yb23 = _mm256_unpacklo_epi32(p26, p37);
    const __m256i r23 = _mm256_unpackhi_epi32(p26, p37);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cb_out + x), _mm256_unpackhi_epi64(yb01, yb23));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cr_out + x), _mm256_unpacklo_epi64(r01, r23));
    __m256i y8 =
        _mm256_srli_epi32(_mm256_add_epi32(_mm256_unpacklo_epi64(yb01, yb23), y_round), 12);
    y8 = _mm256_packus_epi16(_mm256_packus_epi32(y8, y8), y8);
    _mm_storel_epi64(
        reinterpret_cast<__m128i*>(y_out + x),
        _mm_unpacklo_epi32(_mm256_castsi256_si128(y8), _mm256_extracti128_si256(y8, 1)));
  }
  if (x < w) MapRow(y_in + x, cb_in + x, cr_in + x, w - x, y_out + x, cb_out + x, cr_out + x);
}
#else
void ToneMapLut::MapRowAvx2(const uint16_t* y_in, const uint16_t* cb_in, const uint16_t* cr_in,
                            int w, uint8_t* y_out, uint32_t* cb_out, uint32_t* cr_out) const {
  MapRow(y_in, cb_in, cr_in, w, y_out, cb_out, cr_out);
}
#endif

Status ToneMapLut::Apply(const AVFrame* in, AVFrame* out, Kernel kernel) const {
  if (in->format != AV_PIX_FMT_YUV444P10LE) {
    return Status(ErrorCode::kInternal, "The tone-map table takes yuv444p10le pictures");
  }
  if (kernel == Kernel::kAuto) kernel = HasAvx2() ? Kernel::kAvx2 : Kernel::kScalar;
  if (kernel == Kernel::kAvx2 && !HasAvx2()) {
    return Status(ErrorCode::kInternal, "This CPU has no AVX2");
  }
  const auto map_row = kernel == Kernel::kAvx2 ? &ToneMapLut::MapRowAvx2 : &ToneMapLut::MapRow;
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
      (this->*map_row)(row16(0, y), row16(1, y), row16(2, y), w,
                       out->data[0] + y * out->linesize[0], cb_rows[r], cr_rows[r]);
    }
    uint8_t* cb_out = out->data[1] + cy * out->linesize[1];
    uint8_t* cr_out = out->data[2] + cy * out->linesize[2];
#if VIDPROC_TONE_MAP_AVX2
    if (kernel == Kernel::kAvx2) {
      Subsample420Avx2(cb_rows[0], cb_rows[1], w, cb_out);
      Subsample420Avx2(cr_rows[0], cr_rows[1], w, cr_out);
      continue;
    }
#endif
    Subsample420(cb_rows[0], cb_rows[1], w, 0, (w + 1) / 2, cb_out);
    Subsample420(cr_rows[0], cr_rows[1], w, 0, (w + 1) / 2, cr_out);
  }
  return Status::Ok();
}

}  // namespace vidproc::media
