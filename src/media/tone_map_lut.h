// HDR (BT.2020 PQ or HLG) to SDR (BT.709) as a table lookup on the already scaled picture.
//
// The float chain zscale (linear light) -> tonemap=hable -> zscale costs far more than the scale
// itself. Its result depends only on each pixel's (Y', Cb, Cr) code values (and on the stream's
// light-level metadata), so it is computed once for a lattice of code values by pushing that
// lattice through the very same chain, and then applied per pixel by interpolation: the look is
// the reference chain's by construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vidproc::media {

// The reference tone-mapping filters (libavfilter syntax) from the source's Y'CbCr to BT.709
// Y'CbCr, limited range. `resize` ("w=1280:h=720:f=bicubic:" or empty) goes into the first zscale.
std::string ReferenceToneMapFilters(const std::string& transfer, const std::string& resize);

class ToneMapLut {
 public:
  // Chroma lattice points per axis. Luma is tabled at every 10-bit code; the chroma planes of a
  // downscaled picture are smooth, so a coarser chroma grid interpolates within 8-bit precision.
  static constexpr int kDefaultChromaNodes = 33;

  // The table for `transfer` ("arib-std-b67" is HLG, anything else PQ) and the light-level side
  // data of `like` (MaxCLL, mastering peak: they set the tone curve's peak). Tables are built once
  // per process for each transfer and metadata, and shared.
  static Result<std::shared_ptr<const ToneMapLut>> For(const std::string& transfer,
                                                       const AVFrame* like,
                                                       int chroma_nodes = kDefaultChromaNodes);

  // Maps a yuv444p10le picture (the scaled source, still in its HDR encoding) to a new yuv420p
  // picture of the same size (BT.709, limited range), carrying over the timing and properties
  // of `in`. Full chroma in: the mapping of each pixel needs its own chroma, as the reference's
  // per-pixel RGB does; the 4:2:0 subsampling comes after it, as there.
  Status Apply(const AVFrame* in, AVFrame* out) const;

 private:
  struct Entry {
    uint16_t y, cb, cr;  // BT.709 limited-range codes in 16-bit units (8-bit code * 256)
  };
  static constexpr int kLumaCodes = 1024;

  explicit ToneMapLut(int chroma_nodes) : chroma_nodes_(chroma_nodes) {}
  static Result<std::shared_ptr<const ToneMapLut>> Build(bool hlg, const AVFrame* like,
                                                         int chroma_nodes);
  struct Mapped {
    uint8_t y;
    uint32_t cb, cr;  // 16-bit units
  };
  void Locate(int cb, int cr, const Entry* columns[4], uint64_t weights[4]) const;
  Mapped Map(int y, int cb, int cr) const;
  const Entry* Column(int cb_node, int cr_node) const {
    return &table_[(static_cast<size_t>(cr_node) * chroma_nodes_ + cb_node) * kLumaCodes];
  }

  int chroma_nodes_;
  std::vector<Entry> table_;  // [cr node][cb node][luma code]
};

}  // namespace vidproc::media
